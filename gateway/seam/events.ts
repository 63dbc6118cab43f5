import { randomUUID } from 'node:crypto';
import { listEvents, type StoredEvent } from '../store.ts';
import { type DeviceRow, deviceByLockId } from './devices.ts';
import { iso, type SeamStore } from './store.ts';
import { queueDeliveries } from './webhooks.ts';

/** The Seam event types this gateway produces (docs/seam-api.md). */
export const EVENT_TYPES = [
  'lock.unlocked',
  'lock.locked',
  'lock.access_denied',
  'access_code.created',
  'access_code.changed',
  'access_code.set_on_device',
  'access_code.failed_to_set_on_device',
  'access_code.removed_from_device',
  'access_code.modified_external_to_seam',
  'access_code.deleted_external_to_seam',
  'access_code.backup_access_code_pulled',
  'device.connected',
  'device.disconnected',
] as const;
export type SeamEventType = (typeof EVENT_TYPES)[number];

/** Event-specific fields (access_code_id, method, error_code); never a PIN. */
export type EventFields = Record<string, string | boolean>;

export interface EventRow {
  event_id: string;
  source: string | null;
  device_id: string;
  event_type: SeamEventType;
  occurred_at: number;
  created_at: number;
  fields: string;
}

/**
 * Records a Seam event and queues its webhook deliveries, in one transaction. `source`
 * names what it came from (a lock event's device, boot and seq); a second event from the
 * same source is ignored, so replays add nothing.
 */
export function recordEvent(
  store: SeamStore,
  event: { deviceId: string; type: SeamEventType; occurredAt: number; fields?: EventFields; source?: string },
  now = Date.now(),
): void {
  store.db.transaction(() => {
    const eventId = randomUUID();
    const inserted = store.db
      .prepare(
        `INSERT OR IGNORE INTO seam_events (event_id, source, device_id, event_type, occurred_at, created_at, fields)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        eventId,
        event.source ?? null,
        event.deviceId,
        event.type,
        event.occurredAt,
        now,
        JSON.stringify(event.fields ?? {}),
      );
    if (inserted.changes === 1) queueDeliveries(store, eventId, event.type, now);
  })();
}

/** The access code a lock-side ref stands for: the gateway uses the access_code_id as the ref. */
function accessCodeIdForRef(store: SeamStore, ref: unknown): string | undefined {
  if (typeof ref !== 'string') return undefined;
  return store.db
    .prepare<[string], { access_code_id: string }>(
      'SELECT access_code_id FROM seam_access_codes WHERE access_code_id = ?',
    )
    .get(ref)?.access_code_id;
}

/** An offline code's decision names it `offline:<fingerprint>` (firmware/access/offline-credential.ts). */
function accessCodeIdForOffline(store: SeamStore, codeName: unknown): string | undefined {
  if (typeof codeName !== 'string' || !codeName.startsWith('offline:')) return undefined;
  return store.db
    .prepare<[string], { access_code_id: string }>(
      'SELECT access_code_id FROM seam_access_codes WHERE offline_fingerprint = ?',
    )
    .get(codeName.slice('offline:'.length))?.access_code_id;
}

/** Remote lock commands seen per lock, so the `lock_state` that follows is credited to them. */
const remoteLockPending = new WeakMap<SeamStore, Map<string, boolean>>();

/**
 * Turns one lock event (stored by the gateway service) into the Seam event it means,
 * if any:
 * - `decision` granted: `lock.unlocked`, method `keycode`, with the access code's id
 *   when the code is one the API manages (the event's `code_ref`);
 * - `decision` denied: `lock.access_denied`;
 * - `remote_unlock` by the gateway: `lock.unlocked`, method `seamapi`;
 * - `lock_state` locked: `lock.locked`, method `seamapi` after a gateway `remote_lock`,
 *   else `unknown` (the lock does not say whether its auto-relock or a key moved it).
 */
export function recordLockEvent(store: SeamStore, event: StoredEvent, now = Date.now()): void {
  store.db.transaction(() => {
    seamEventFor(store, event, now);
    // How far this lock's stream has been turned into Seam events, in the same commit.
    store.db
      .prepare(
        `INSERT INTO seam_lock_cursors (device_id, incarnation, seq) VALUES (?, ?, ?)
         ON CONFLICT (device_id, incarnation) DO UPDATE SET seq = max(seq, excluded.seq)`,
      )
      .run(event.deviceId, event.incarnation, event.seq);
  })();
}

/**
 * Catch-up on start: lock events the gateway service committed and acknowledged but
 * whose Seam events were not recorded (the process died in between) are turned into
 * them now, in seq order per lock and incarnation, from the stored events. A Seam event
 * is keyed by (device, incarnation, seq), so nothing is recorded twice. Returns them.
 */
export function catchUpLockEvents(store: SeamStore, now = Date.now()): StoredEvent[] {
  const streams = store.db
    .prepare<[], { device_id: string; incarnation: string; acked: number; done: number | null }>(
      `SELECT a.device_id, a.incarnation, a.seq AS acked, c.seq AS done FROM acks a
       LEFT JOIN seam_lock_cursors c ON c.device_id = a.device_id AND c.incarnation = a.incarnation
       WHERE a.seq > coalesce(c.seq, 0)`,
    )
    .all();
  const replayed: StoredEvent[] = [];
  for (const stream of streams) {
    let after = stream.done ?? 0;
    for (;;) {
      const batch = listEvents(store.db, stream.device_id, after, 1000, stream.incarnation).filter(
        (event) => event.seq <= stream.acked,
      );
      if (batch.length === 0) break;
      for (const event of batch) recordLockEvent(store, event, now);
      replayed.push(...batch);
      after = batch[batch.length - 1]!.seq;
    }
  }
  return replayed;
}

function seamEventFor(store: SeamStore, event: StoredEvent, now: number): void {
  const at = Date.parse(event.at);
  const occurredAt = Number.isFinite(at) ? at : now;
  const base = {
    deviceId: event.deviceId,
    occurredAt,
    source: `${event.deviceId}/${event.incarnation}/${event.seq}`,
  };
  const data = event.data;
  let pending = remoteLockPending.get(store);
  if (!pending) {
    pending = new Map();
    remoteLockPending.set(store, pending);
  }
  if (event.type === 'decision') {
    const accessCodeId =
      accessCodeIdForRef(store, data.code_ref) ?? accessCodeIdForOffline(store, data.code_name);
    const fields: EventFields = accessCodeId ? { access_code_id: accessCodeId } : {};
    if (data.outcome === 'granted')
      recordEvent(store, { ...base, type: 'lock.unlocked', fields: { ...fields, method: 'keycode' } }, now);
    else recordEvent(store, { ...base, type: 'lock.access_denied', fields }, now);
  } else if (event.type === 'remote_unlock') {
    const method = data.by === 'gateway' ? 'seamapi' : 'unknown';
    recordEvent(store, { ...base, type: 'lock.unlocked', fields: { method } }, now);
  } else if (event.type === 'remote_lock') {
    pending.set(event.deviceId, data.by === 'gateway');
  } else if (event.type === 'lock_state' && data.state === 'locked') {
    const method = pending.get(event.deviceId) ? 'seamapi' : 'unknown';
    pending.delete(event.deviceId);
    recordEvent(store, { ...base, type: 'lock.locked', fields: { method } }, now);
  }
}

export function toSeamEvent(store: SeamStore, row: EventRow, device: DeviceRow) {
  return {
    event_id: row.event_id,
    event_type: row.event_type,
    device_id: device.seam_device_id,
    workspace_id: store.workspace.workspaceId,
    connected_account_id: store.workspace.connectedAccountId,
    occurred_at: iso(row.occurred_at),
    created_at: iso(row.created_at),
    ...(JSON.parse(row.fields) as EventFields),
  };
}

export interface EventFilter {
  deviceIds?: string[];
  accessCodeIds?: string[];
  eventTypes?: string[];
  since?: number;
  until?: number;
  limit: number;
}

/** Events newest first, as Seam lists them. */
export function listSeamEvents(store: SeamStore, filter: EventFilter) {
  const where: string[] = [];
  const args: unknown[] = [];
  const within = (column: string, values: string[] | undefined) => {
    if (!values) return;
    where.push(`${column} IN (${values.map(() => '?').join(', ') || 'NULL'})`);
    args.push(...values);
  };
  within('device_id', filter.deviceIds);
  within("json_extract(fields, '$.access_code_id')", filter.accessCodeIds);
  within('event_type', filter.eventTypes);
  if (filter.since !== undefined) {
    where.push('occurred_at >= ?');
    args.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.push('occurred_at <= ?');
    args.push(filter.until);
  }
  const sql = `SELECT * FROM seam_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY occurred_at DESC, created_at DESC LIMIT ?`;
  return store.db
    .prepare<unknown[], EventRow>(sql)
    .all(...args, filter.limit)
    .flatMap((row) => {
      const device = deviceByLockId(store, row.device_id);
      return device ? [toSeamEvent(store, row, device)] : [];
    });
}

export function eventById(store: SeamStore, eventId: string): EventRow | undefined {
  return store.db.prepare<[string], EventRow>('SELECT * FROM seam_events WHERE event_id = ?').get(eventId);
}
