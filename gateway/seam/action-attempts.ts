import { randomUUID } from 'node:crypto';
import type { SeamStore } from './store.ts';

export type ActionType =
  | 'LOCK_DOOR'
  | 'UNLOCK_DOOR'
  | 'CREATE_ACCESS_CODE'
  | 'UPDATE_ACCESS_CODE'
  | 'DELETE_ACCESS_CODE'
  | 'SIMULATE_KEYPAD_CODE_ENTRY';

export interface ActionAttemptRow {
  action_attempt_id: string;
  action_type: ActionType;
  device_id: string;
  access_code_id: string | null;
  awaited_revision: number | null;
  status: 'pending' | 'success' | 'error';
  result: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface ActionError {
  type: string;
  message: string;
}

/** A pending action attempt; for access codes, `awaitedRevision` is the desired revision it waits for. */
export function startActionAttempt(
  store: SeamStore,
  attempt: { type: ActionType; deviceId: string; accessCodeId?: string; awaitedRevision?: number },
  now = Date.now(),
): string {
  const id = randomUUID();
  store.db
    .prepare(
      `INSERT INTO seam_action_attempts
         (action_attempt_id, action_type, device_id, access_code_id, awaited_revision, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    )
    .run(
      id,
      attempt.type,
      attempt.deviceId,
      attempt.accessCodeId ?? null,
      attempt.awaitedRevision ?? null,
      now,
      now,
    );
  return id;
}

/** Resolves a pending attempt once; a resolved one is never changed again. */
export function finishActionAttempt(
  store: SeamStore,
  actionAttemptId: string,
  outcome: { result: Record<string, unknown> } | { error: ActionError },
  now = Date.now(),
): void {
  const ok = 'result' in outcome;
  store.db
    .prepare(
      `UPDATE seam_action_attempts SET status = ?, result = ?, error = ?, updated_at = ?
       WHERE action_attempt_id = ? AND status = 'pending'`,
    )
    .run(
      ok ? 'success' : 'error',
      ok ? JSON.stringify(outcome.result) : null,
      ok ? null : JSON.stringify(outcome.error),
      now,
      actionAttemptId,
    );
}

/** Pending access-code attempts of a lock whose awaited revision the lock has now reported. */
export function attemptsAwaiting(
  store: SeamStore,
  deviceId: string,
  reportedRevision: number,
): ActionAttemptRow[] {
  return store.db
    .prepare<[string, number], ActionAttemptRow>(
      `SELECT * FROM seam_action_attempts
       WHERE device_id = ? AND status = 'pending' AND awaited_revision IS NOT NULL AND awaited_revision <= ?`,
    )
    .all(deviceId, reportedRevision);
}

/**
 * Lock and unlock attempts still pending when the gateway starts lost their command's
 * reply with the process: they end as errors rather than stay pending for ever.
 */
export function failInterruptedCommands(store: SeamStore, now = Date.now()): void {
  store.db
    .prepare(
      `UPDATE seam_action_attempts SET status = 'error', error = ?, updated_at = ?
       WHERE status = 'pending' AND action_type IN ('LOCK_DOOR', 'UNLOCK_DOOR')`,
    )
    .run(
      JSON.stringify({ type: 'gateway_restarted', message: 'the gateway restarted before the lock replied' }),
      now,
    );
}

export function actionAttemptById(store: SeamStore, id: string): ActionAttemptRow | undefined {
  return store.db
    .prepare<[string], ActionAttemptRow>('SELECT * FROM seam_action_attempts WHERE action_attempt_id = ?')
    .get(id);
}

export function listActionAttempts(
  store: SeamStore,
  filter: { ids?: string[]; deviceId?: string; limit: number },
): ActionAttemptRow[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.ids) {
    where.push(`action_attempt_id IN (${filter.ids.map(() => '?').join(', ') || 'NULL'})`);
    args.push(...filter.ids);
  }
  if (filter.deviceId !== undefined) {
    where.push('device_id = ?');
    args.push(filter.deviceId);
  }
  return store.db
    .prepare<unknown[], ActionAttemptRow>(
      `SELECT * FROM seam_action_attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, action_attempt_id LIMIT ?`,
    )
    .all(...args, filter.limit);
}

export function toSeamActionAttempt(row: ActionAttemptRow) {
  return {
    action_attempt_id: row.action_attempt_id,
    action_type: row.action_type,
    status: row.status,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
    error: row.error === null ? null : (JSON.parse(row.error) as ActionError),
  };
}
