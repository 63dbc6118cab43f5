import { randomUUID } from 'node:crypto';
import { listEvents, type StoredEvent } from '../store.ts';
import { type DeviceRow, deviceByLockId } from './devices.ts';
import { iso, type SeamStore } from './store.ts';
import { forgetUnmanaged, rememberUnmanaged } from './unmanaged.ts';
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
  'access_code.unmanaged.created',
  'access_code.unmanaged.removed',
  'access_code.unmanaged.converted_to_managed',
  'access_code.unmanaged.failed_to_convert_to_managed',
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
  /** The event's access code, if any (also in `fields`), for filtering. */
  access_code_id: string | null;
}

/**
 * Records a Seam event and queues its webhook deliveries, in one transaction. `source`
 * names what it came from (a lock event's device, incarnation and seq): it is unique, so
 * a replay, or a second worker turning the same lock event, adds nothing. Returns whether
 * the event was recorded.
 */
export function recordEvent(
  store: SeamStore,
  event: { deviceId: string; type: SeamEventType; occurredAt: number; fields?: EventFields; source?: string },
  now = Date.now(),
): Promise<boolean> {
  return store.sql.transaction(async () => {
    const eventId = randomUUID();
    const fields = event.fields ?? {};
    const accessCodeId = typeof fields.access_code_id === 'string' ? fields.access_code_id : null;
    const inserted = await store.sql.run(
      `INSERT INTO seam_events (event_id, source, device_id, event_type, occurred_at, created_at, fields, access_code_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        eventId,
        event.source ?? null,
        event.deviceId,
        event.type,
        event.occurredAt,
        now,
        JSON.stringify(fields),
        accessCodeId,
      ],
    );
    if (inserted.changes !== 1) return false;
    await queueDeliveries(store, eventId, event.type, now);
    return true;
  });
}

/** The access code a lock-side ref stands for: the gateway uses the access_code_id as the ref. */
async function accessCodeIdForRef(store: SeamStore, ref: unknown): Promise<string | undefined> {
  if (typeof ref !== 'string') return undefined;
  const row = await store.sql.get<{ access_code_id: string }>(
    'SELECT access_code_id FROM seam_access_codes WHERE access_code_id = ?',
    [ref],
  );
  return row?.access_code_id;
}

/** An offline code's decision names it `offline:<fingerprint>` (firmware/access/offline-credential.ts). */
async function accessCodeIdForOffline(store: SeamStore, codeName: unknown): Promise<string | undefined> {
  if (typeof codeName !== 'string' || !codeName.startsWith('offline:')) return undefined;
  const row = await store.sql.get<{ access_code_id: string }>(
    'SELECT access_code_id FROM seam_access_codes WHERE offline_fingerprint = ?',
    [codeName.slice('offline:'.length)],
  );
  return row?.access_code_id;
}

/**
 * Turns one lock event (stored by the gateway service) into the Seam event it means,
 * if any:
 * - `decision` granted: `lock.unlocked`, method `keycode`, with the access code's id
 *   when the code is one the API manages (the event's `code_ref`);
 * - `decision` denied: `lock.access_denied`;
 * - `remote_unlock` by the gateway: `lock.unlocked`, method `seamapi`;
 * - `lock_state` locked: `lock.locked`, method `seamapi` after a gateway `remote_lock`,
 *   else `unknown` (the lock does not say whether its auto-relock or a key moved it).
 * It happens once per lock event, whoever hands it over (the live worker, a catch-up of any
 * worker): the event's row in `seam_lock_translated` is taken in the same transaction as
 * what the event becomes, so a second try finds it and does nothing (on PostgreSQL it
 * waits for the first to commit or roll back). Returns whether this call translated it.
 */
export function recordLockEvent(store: SeamStore, event: StoredEvent, now = Date.now()): Promise<boolean> {
  return store.sql.transaction(async (tx) => {
    const claimed = await tx.run(
      `INSERT INTO seam_lock_translated (device_id, incarnation, seq) VALUES (?, ?, ?)
       ON CONFLICT (device_id, incarnation, seq) DO NOTHING`,
      [event.deviceId, event.incarnation, event.seq],
    );
    if (claimed.changes !== 1) return false;
    await seamEventFor(store, event, now);
    return true;
  });
}

/** Stored events read per query by the catch-up. */
const CATCH_UP_PAGE = 1000;

export interface CatchUpOptions {
  now?: number;
  /**
   * Takes only lock events the gateway stored at or before this time (epoch ms; default:
   * all), leaving the newest to the worker that is handing them over live, in order.
   */
  storedBy?: number;
}

/**
 * Catch-up: lock events the gateway service committed and acknowledged whose Seam
 * events were never recorded (the worker that committed them died, or could not reach
 * the database) are turned into them now, in seq order per lock and incarnation. Any
 * number of workers may run it at once (recordLockEvent translates each event once).
 * `seam_lock_cursors` holds per lock and incarnation the seq up to which every
 * acknowledged event is translated; it moves only forward, and only over events that are
 * (a worker's high-water mark could pass a dead worker's untranslated events). Returns the
 * events this call translated. A lock whose events fail is left for the next run after
 * the other locks are done.
 */
export async function catchUpLockEvents(
  store: SeamStore,
  options: CatchUpOptions = {},
): Promise<StoredEvent[]> {
  const now = options.now ?? Date.now();
  const storedBy = options.storedBy ?? Number.POSITIVE_INFINITY;
  const streams = await store.sql.all<{
    device_id: string;
    incarnation: string;
    acked: number;
    done: number | null;
  }>(
    `SELECT a.device_id, a.incarnation, a.seq AS acked, c.seq AS done FROM acks a
     LEFT JOIN seam_lock_cursors c ON c.device_id = a.device_id AND c.incarnation = a.incarnation
     WHERE a.seq > coalesce(c.seq, 0)`,
  );
  const translated: StoredEvent[] = [];
  const failures: Error[] = [];
  const moves: Array<{ device_id: string; incarnation: string; seq: number }> = [];
  for (const stream of streams) {
    try {
      const caught = await catchUpStream(store, stream, storedBy, now);
      translated.push(...caught.translated);
      if (caught.mark > (stream.done ?? 0)) moves.push({ ...stream, seq: caught.mark });
    } catch (error) {
      failures.push(error as Error);
    }
  }
  // Every lock's cursor in one commit: a commit per lock would hold the database (one
  // connection on SQLite) for a second per thousand locks at every pass.
  if (moves.length > 0)
    await store.sql.transaction(async (tx) => {
      for (const move of moves)
        await tx.run(
          `INSERT INTO seam_lock_cursors (device_id, incarnation, seq) VALUES (?, ?, ?)
           ON CONFLICT (device_id, incarnation) DO UPDATE SET seq = CASE
             WHEN excluded.seq > seam_lock_cursors.seq THEN excluded.seq ELSE seam_lock_cursors.seq END`,
          [move.device_id, move.incarnation, move.seq],
        );
    });
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `catch-up failed for ${failures.length} locks`);
  return translated;
}

async function catchUpStream(
  store: SeamStore,
  stream: { device_id: string; incarnation: string; acked: number; done: number | null },
  storedBy: number,
  now: number,
): Promise<{ translated: StoredEvent[]; mark: number }> {
  const translated: StoredEvent[] = [];
  const done = stream.done ?? 0;
  /** Every acknowledged event up to here is translated. */
  let contiguous = done;
  let waiting = false;
  let after = done;
  pages: for (;;) {
    const rows = await store.sql.all<{ seq: number; received_at: number; translated: number | null }>(
      `SELECT e.seq, e.received_at, t.seq AS translated FROM events e
       LEFT JOIN seam_lock_translated t
         ON t.device_id = e.device_id AND t.incarnation = e.incarnation AND t.seq = e.seq
       WHERE e.device_id = ? AND e.incarnation = ? AND e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?`,
      [stream.device_id, stream.incarnation, after, stream.acked, CATCH_UP_PAGE],
    );
    for (const row of rows) {
      if (row.translated === null) {
        if (row.received_at > storedBy) {
          waiting = true;
          break pages;
        }
        const [event] = await listEvents(store.sql, stream.device_id, row.seq - 1, 1, stream.incarnation);
        if (event && (await recordLockEvent(store, event, now))) translated.push(event);
      }
      contiguous = row.seq;
    }
    if (rows.length < CATCH_UP_PAGE) break;
    after = rows[rows.length - 1]!.seq;
  }
  // Seqs up to the ack with no stored event are ones the lock never sends again.
  return { translated, mark: waiting ? contiguous : stream.acked };
}

/**
 * Whether the lock's last `remote_lock` before `seq` (since the last time it reported
 * itself locked) came from the gateway: read from the stored stream, so any worker
 * answers the same.
 */
async function lockedByGateway(store: SeamStore, event: StoredEvent): Promise<boolean> {
  const before = await store.sql.all<{ type: string; data: string }>(
    `SELECT type, data FROM events WHERE device_id = ? AND incarnation = ? AND seq < ?
       AND type IN ('remote_lock', 'lock_state') ORDER BY seq DESC LIMIT 20`,
    [event.deviceId, event.incarnation, event.seq],
  );
  for (const row of before) {
    const data = JSON.parse(row.data) as Record<string, unknown>;
    if (row.type === 'remote_lock') return data.by === 'gateway';
    if (data.state === 'locked') return false;
  }
  return false;
}

async function seamEventFor(store: SeamStore, event: StoredEvent, now: number): Promise<void> {
  const at = Date.parse(event.at);
  const occurredAt = Number.isFinite(at) ? at : now;
  const base = {
    deviceId: event.deviceId,
    occurredAt,
    source: `${event.deviceId}/${event.incarnation}/${event.seq}`,
  };
  const data = event.data;
  if (event.type === 'decision') {
    const accessCodeId =
      (await accessCodeIdForRef(store, data.code_ref)) ??
      (await accessCodeIdForOffline(store, data.code_name));
    const fields: EventFields = accessCodeId ? { access_code_id: accessCodeId } : {};
    if (data.outcome === 'granted')
      await recordEvent(
        store,
        { ...base, type: 'lock.unlocked', fields: { ...fields, method: 'keycode' } },
        now,
      );
    else await recordEvent(store, { ...base, type: 'lock.access_denied', fields }, now);
  } else if (event.type === 'remote_unlock') {
    const method = data.by === 'gateway' ? 'seamapi' : 'unknown';
    await recordEvent(store, { ...base, type: 'lock.unlocked', fields: { method } }, now);
  } else if (event.type === 'lock_state' && data.state === 'locked') {
    const method = (await lockedByGateway(store, event)) ? 'seamapi' : 'unknown';
    await recordEvent(store, { ...base, type: 'lock.locked', fields: { method } }, now);
  } else if ((event.type === 'code_added' || event.type === 'code_removed') && data.source === 'local') {
    // A code added or removed at the lock itself (docs/protocol.md, Events): an unmanaged code.
    if (typeof data.code_id !== 'number') return;
    const known = typeof data.created_at === 'number' ? data.created_at : undefined;
    const accessCodeId =
      event.type === 'code_added'
        ? await rememberUnmanaged(store, event.deviceId, data.code_id, known, now)
        : await forgetUnmanaged(store, event.deviceId, data.code_id, known);
    if (accessCodeId === undefined) return;
    const type =
      event.type === 'code_added' ? 'access_code.unmanaged.created' : 'access_code.unmanaged.removed';
    await recordEvent(store, { ...base, type, fields: { access_code_id: accessCodeId } }, now);
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
export async function listSeamEvents(store: SeamStore, filter: EventFilter) {
  const where: string[] = [];
  const args: unknown[] = [];
  const within = (column: string, values: string[] | undefined) => {
    if (!values) return;
    where.push(`${column} IN (${values.map(() => '?').join(', ') || 'NULL'})`);
    args.push(...values);
  };
  within('device_id', filter.deviceIds);
  within('access_code_id', filter.accessCodeIds);
  within('event_type', filter.eventTypes);
  if (filter.since !== undefined) {
    where.push('occurred_at >= ?');
    args.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.push('occurred_at <= ?');
    args.push(filter.until);
  }
  const text = `SELECT * FROM seam_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY occurred_at DESC, created_at DESC LIMIT ?`;
  const rows = await store.sql.all<EventRow>(text, [...args, filter.limit]);
  const devices = new Map<string, DeviceRow | undefined>();
  const listed = [];
  for (const row of rows) {
    if (!devices.has(row.device_id)) devices.set(row.device_id, await deviceByLockId(store, row.device_id));
    const device = devices.get(row.device_id);
    if (device) listed.push(toSeamEvent(store, row, device));
  }
  return listed;
}

export function eventById(store: SeamStore, eventId: string): Promise<EventRow | undefined> {
  return store.sql.get<EventRow>('SELECT * FROM seam_events WHERE event_id = ?', [eventId]);
}
