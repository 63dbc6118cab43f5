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
export async function startActionAttempt(
  store: SeamStore,
  attempt: { type: ActionType; deviceId: string; accessCodeId?: string; awaitedRevision?: number },
  now = Date.now(),
): Promise<string> {
  const id = randomUUID();
  await store.sql.run(
    `INSERT INTO seam_action_attempts
       (action_attempt_id, action_type, device_id, access_code_id, awaited_revision, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    [
      id,
      attempt.type,
      attempt.deviceId,
      attempt.accessCodeId ?? null,
      attempt.awaitedRevision ?? null,
      now,
      now,
    ],
  );
  return id;
}

/**
 * Resolves a pending attempt once; a resolved one is never changed again (two workers
 * resolving the same attempt: the first wins). Returns whether this call resolved it.
 */
export async function finishActionAttempt(
  store: SeamStore,
  actionAttemptId: string,
  outcome: { result: Record<string, unknown> } | { error: ActionError },
  now = Date.now(),
): Promise<boolean> {
  const ok = 'result' in outcome;
  const { changes } = await store.sql.run(
    `UPDATE seam_action_attempts SET status = ?, result = ?, error = ?, updated_at = ?
     WHERE action_attempt_id = ? AND status = 'pending'`,
    [
      ok ? 'success' : 'error',
      ok ? JSON.stringify(outcome.result) : null,
      ok ? null : JSON.stringify(outcome.error),
      now,
      actionAttemptId,
    ],
  );
  return changes === 1;
}

/** Pending access-code attempts of a lock whose awaited revision the lock has now reported. */
export function attemptsAwaiting(
  store: SeamStore,
  deviceId: string,
  reportedRevision: number,
): Promise<ActionAttemptRow[]> {
  return store.sql.all<ActionAttemptRow>(
    `SELECT * FROM seam_action_attempts
     WHERE device_id = ? AND status = 'pending' AND awaited_revision IS NOT NULL AND awaited_revision <= ?`,
    [deviceId, reportedRevision],
  );
}

/**
 * Lock and unlock attempts still pending when the gateway starts lost their command's
 * reply with the process: they end as errors rather than stay pending for ever. With
 * several workers on one database, only the attempts older than `startedBefore` are
 * taken (another worker's command in flight is younger than the command timeout).
 */
export async function failInterruptedCommands(
  store: SeamStore,
  startedBefore: number,
  now = Date.now(),
): Promise<void> {
  await store.sql.run(
    `UPDATE seam_action_attempts SET status = 'error', error = ?, updated_at = ?
     WHERE status = 'pending' AND action_type IN ('LOCK_DOOR', 'UNLOCK_DOOR') AND created_at < ?`,
    [
      JSON.stringify({ type: 'gateway_restarted', message: 'the gateway restarted before the lock replied' }),
      now,
      startedBefore,
    ],
  );
}

export function actionAttemptById(store: SeamStore, id: string): Promise<ActionAttemptRow | undefined> {
  return store.sql.get<ActionAttemptRow>('SELECT * FROM seam_action_attempts WHERE action_attempt_id = ?', [
    id,
  ]);
}

export function listActionAttempts(
  store: SeamStore,
  filter: { ids?: string[]; deviceId?: string; limit: number },
): Promise<ActionAttemptRow[]> {
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
  return store.sql.all<ActionAttemptRow>(
    `SELECT * FROM seam_action_attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, action_attempt_id LIMIT ?`,
    [...args, filter.limit],
  );
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
