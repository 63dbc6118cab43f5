import { TumblerError } from '../firmware/errors.ts';
import { type MigrationStep, migrate, schemaVersion } from './db/migrate.ts';
import { openSql, type Sql } from './db/sql.ts';

/** The gateway's database: a SQLite file (the default) or PostgreSQL shared by several workers. */
export type GatewayDb = Sql;

const COMPONENT = 'gateway';

/**
 * The core tables: devices (secret in clear, command counter, desired revision,
 * incarnation), events keyed unique by (device, incarnation, seq), acks, incarnations
 * seen and the last reported codes. SQLite files carry their whole history; a PostgreSQL
 * database starts at the current schema (its later steps are no-ops, keeping one numbering).
 */
export const GATEWAY_MIGRATIONS: readonly MigrationStep[] = [
  {
    sqlite: `CREATE TABLE devices (
       device_id TEXT PRIMARY KEY,
       secret TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       next_counter INTEGER NOT NULL DEFAULT 1,
       desired_revision INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE events (
       device_id TEXT NOT NULL,
       seq INTEGER NOT NULL,
       boot_id TEXT NOT NULL,
       at TEXT NOT NULL,
       type TEXT NOT NULL,
       data TEXT NOT NULL,
       prev_seq INTEGER NOT NULL,
       received_at INTEGER NOT NULL,
       PRIMARY KEY (device_id, seq)
     ) WITHOUT ROWID;
     CREATE TABLE acks (device_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
     CREATE TABLE reported (
       device_id TEXT PRIMARY KEY,
       revision INTEGER NOT NULL,
       body TEXT NOT NULL,
       received_at INTEGER NOT NULL
     );`,
    postgres: `CREATE TABLE devices (
       device_id TEXT PRIMARY KEY,
       secret TEXT NOT NULL,
       created_at BIGINT NOT NULL,
       next_counter BIGINT NOT NULL DEFAULT 1,
       desired_revision BIGINT NOT NULL DEFAULT 0,
       incarnation TEXT,
       note TEXT,
       note_at BIGINT
     );
     CREATE TABLE events (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq BIGINT NOT NULL,
       boot_id TEXT NOT NULL,
       at TEXT NOT NULL,
       type TEXT NOT NULL,
       data TEXT NOT NULL,
       prev_seq BIGINT NOT NULL,
       hash TEXT,
       prev_hash TEXT,
       chain_break INTEGER NOT NULL DEFAULT 0,
       received_at BIGINT NOT NULL,
       PRIMARY KEY (device_id, incarnation, seq)
     );
     CREATE TABLE acks (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq BIGINT NOT NULL,
       PRIMARY KEY (device_id, incarnation)
     );
     CREATE TABLE incarnations (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       first_seen BIGINT NOT NULL,
       seen_order BIGINT NOT NULL DEFAULT 0,
       PRIMARY KEY (device_id, incarnation)
     );
     CREATE TABLE reported (
       device_id TEXT PRIMARY KEY,
       revision BIGINT NOT NULL,
       body TEXT NOT NULL,
       received_at BIGINT NOT NULL
     );`,
  },
  // 2: events are keyed by the lock database's incarnation too (a wiped and re-provisioned
  // lock starts its seqs again), carry the audit chain's hashes, and are flagged when the
  // chain does not continue; acks are per incarnation; a device remembers its current
  // incarnation, every one it has seen, and a note for the operator. Rows from before
  // have incarnation '' until the device's first event or state names its incarnation.
  {
    sqlite: `CREATE TABLE events_v2 (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq INTEGER NOT NULL,
       boot_id TEXT NOT NULL,
       at TEXT NOT NULL,
       type TEXT NOT NULL,
       data TEXT NOT NULL,
       prev_seq INTEGER NOT NULL,
       hash TEXT,
       prev_hash TEXT,
       chain_break INTEGER NOT NULL DEFAULT 0,
       received_at INTEGER NOT NULL,
       PRIMARY KEY (device_id, incarnation, seq)
     ) WITHOUT ROWID;
     INSERT INTO events_v2 (device_id, incarnation, seq, boot_id, at, type, data, prev_seq, received_at)
       SELECT device_id, '', seq, boot_id, at, type, data, prev_seq, received_at FROM events;
     DROP TABLE events;
     ALTER TABLE events_v2 RENAME TO events;
     CREATE TABLE acks_v2 (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq INTEGER NOT NULL,
       PRIMARY KEY (device_id, incarnation)
     );
     INSERT INTO acks_v2 (device_id, incarnation, seq) SELECT device_id, '', seq FROM acks;
     DROP TABLE acks;
     ALTER TABLE acks_v2 RENAME TO acks;
     CREATE TABLE incarnations (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       first_seen INTEGER NOT NULL,
       PRIMARY KEY (device_id, incarnation)
     );
     ALTER TABLE devices ADD COLUMN incarnation TEXT;
     ALTER TABLE devices ADD COLUMN note TEXT;
     ALTER TABLE devices ADD COLUMN note_at INTEGER;`,
    postgres: 'SELECT 1',
  },
  // 3: the order incarnations were seen in as a column (SQLite's rowid had it; PostgreSQL has none).
  {
    sqlite: `ALTER TABLE incarnations ADD COLUMN seen_order INTEGER NOT NULL DEFAULT 0;
     UPDATE incarnations SET seen_order = rowid;`,
    postgres: 'SELECT 1',
  },
];

export const DEFAULT_GATEWAY_DB = '.tumbler/gateway.db';

/**
 * Opens the gateway's database (a file path, or a postgres:// URL) and brings its core
 * tables up to date. The SQLite file holds device secrets in clear: it is 0600.
 */
export async function openGatewayDb(target: string): Promise<GatewayDb> {
  const db = await openSql(target);
  try {
    await migrateGatewayDb(db);
  } catch (error) {
    await db.close();
    throw new TumblerError('gateway_db', `cannot migrate gateway database: ${(error as Error).message}`);
  }
  return db;
}

export async function migrateGatewayDb(db: GatewayDb): Promise<void> {
  await adoptUserVersion(db);
  await migrate(db, COMPONENT, GATEWAY_MIGRATIONS);
}

/** SQLite files from before the shared ledger counted their steps in PRAGMA user_version. */
async function adoptUserVersion(db: GatewayDb): Promise<void> {
  if (db.dialect !== 'sqlite') return;
  await db.transaction(async (tx) => {
    const legacy = (await tx.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
    if (legacy === 0 || (await schemaVersion(tx, COMPONENT)) > 0) return;
    for (let version = 1; version <= legacy; version++)
      await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)', [
        COMPONENT,
        version,
        Date.now(),
      ]);
  });
}

/**
 * Inside a transaction: takes the devices' rows (PostgreSQL row locks, in one order so two
 * workers never deadlock), so one lock's events, acks and incarnation change one worker at
 * a time. SQLite's transaction already holds the whole file.
 */
export async function lockDevices(tx: GatewayDb, deviceIds: Iterable<string>): Promise<void> {
  if (tx.dialect !== 'postgres') return;
  let held = lockedIn.get(tx);
  if (!held) {
    held = new Set();
    lockedIn.set(tx, held);
  }
  const ids = [...new Set(deviceIds)].filter((id) => !held.has(id)).sort();
  if (ids.length === 0) return;
  await tx.all(
    `SELECT device_id FROM devices WHERE device_id IN (${ids.map(() => '?').join(', ')}) ORDER BY device_id FOR UPDATE`,
    ids,
  );
  for (const id of ids) held.add(id);
}

/**
 * Rows already locked, per transaction (a PostgreSQL transaction is its own Sql object,
 * so nested calls do not ask again). Outside a transaction `tx` is the pool, whose locks
 * end with each statement: it is never remembered.
 */
const lockedIn = new WeakMap<GatewayDb, Set<string>>();

export interface DeviceRecord {
  deviceId: string;
  secret: Uint8Array;
}

export async function addDevice(
  db: GatewayDb,
  deviceId: string,
  secret: Uint8Array,
  now = Date.now(),
): Promise<void> {
  const hex = Buffer.from(secret).toString('hex');
  await db.run(
    'INSERT INTO devices (device_id, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING',
    [deviceId, hex, now],
  );
  const stored = await db.get<{ secret: string }>('SELECT secret FROM devices WHERE device_id = ?', [
    deviceId,
  ]);
  if (stored?.secret !== hex) {
    throw new TumblerError(
      'device_exists',
      `device ${deviceId} is already registered with a different secret`,
    );
  }
}

export async function getDevice(db: GatewayDb, deviceId: string): Promise<DeviceRecord> {
  const row = await db.get<{ secret: string }>('SELECT secret FROM devices WHERE device_id = ?', [deviceId]);
  if (!row) {
    throw new TumblerError(
      'unknown_device',
      `device ${deviceId} is not registered here (lockctl provision or lockctl device add)`,
    );
  }
  return { deviceId, secret: new Uint8Array(Buffer.from(row.secret, 'hex')) };
}

export async function listDevices(db: GatewayDb): Promise<string[]> {
  const rows = await db.all<{ device_id: string }>('SELECT device_id FROM devices ORDER BY device_id');
  return rows.map((r) => r.device_id);
}

const unknownDevice = (deviceId: string) =>
  new TumblerError('unknown_device', `device ${deviceId} is not registered here`);

/** Takes the next command counter: one atomic row update, so no two commands (or workers) share one. */
export async function takeCounter(db: GatewayDb, deviceId: string): Promise<number> {
  const row = await db.get<{ counter: number }>(
    'UPDATE devices SET next_counter = next_counter + 1 WHERE device_id = ? RETURNING next_counter - 1 AS counter',
    [deviceId],
  );
  if (!row) throw unknownDevice(deviceId);
  return row.counter;
}

/**
 * The lock's signed state says it accepted commands up to `lastCounter`: the next one
 * this gateway takes must be above it (a gateway restored from a backup, or a new one).
 * Returns true when the counter moved.
 */
export async function raiseCounter(db: GatewayDb, deviceId: string, lastCounter: number): Promise<boolean> {
  const [moved] = await raiseCounters(db, [{ deviceId, lastCounter }]);
  return moved!;
}

/**
 * raiseCounter for many states in arrival order, with the same answers: one read of the
 * counters and one update taking the highest, per chunk of devices. Run it inside a
 * transaction holding the devices (lockDevices).
 */
export async function raiseCounters(
  db: GatewayDb,
  raises: readonly { deviceId: string; lastCounter: number }[],
): Promise<boolean[]> {
  const next = new Map<string, number>();
  const deviceIds = [...new Set(raises.map((r) => r.deviceId))];
  for (const chunk of chunked(deviceIds, 1))
    for (const row of await db.all<{ device_id: string; next_counter: number }>(
      `SELECT device_id, next_counter FROM devices WHERE device_id IN (${chunk.map(() => '?').join(', ')})`,
      chunk,
    ))
      next.set(row.device_id, row.next_counter);
  const start = new Map(next);
  const moved = raises.map(({ deviceId, lastCounter }) => {
    const counter = next.get(deviceId);
    if (counter === undefined || counter > lastCounter) return false;
    next.set(deviceId, lastCounter + 1);
    return true;
  });
  const raised = [...next].filter(([deviceId, counter]) => start.get(deviceId) !== counter);
  for (const chunk of chunked(raised, 2))
    await db.run(
      `UPDATE devices SET next_counter = k.column2
       FROM (VALUES ${chunk.map(() => '(?, CAST(? AS BIGINT))').join(', ')}) AS k
       WHERE devices.device_id = k.column1 AND devices.next_counter < k.column2`,
      chunk.flat(),
    );
  return moved;
}

/**
 * The next desired revision: above both what we sent and what the lock reports applied.
 * One atomic row update, so two workers pushing to one lock never take the same one.
 */
export async function takeRevision(
  db: GatewayDb,
  deviceId: string,
  reportedRevision: number,
): Promise<number> {
  const row = await db.get<{ desired_revision: number }>(
    `UPDATE devices SET desired_revision = CASE WHEN desired_revision > ? THEN desired_revision ELSE ? END + 1
     WHERE device_id = ? RETURNING desired_revision`,
    [reportedRevision, reportedRevision, deviceId],
  );
  if (!row) throw unknownDevice(deviceId);
  return row.desired_revision;
}

export interface StoredEvent {
  deviceId: string;
  /** The lock database's incarnation: seqs are unique within one. */
  incarnation: string;
  seq: number;
  /** The event queued before this one on the lock (skips events acknowledged or dropped there). */
  prevSeq: number;
  bootId: string;
  at: string;
  type: string;
  data: Record<string, unknown>;
  /** The audit row's chain hash and its predecessor's (null on rows stored before they were carried). */
  hash: string | null;
  prevHash: string | null;
  /** Its prev_hash differs from the stored hash of seq - 1 (or seq + 1's prev_hash from its hash). */
  chainBreak: boolean;
}

export interface DeviceInfo {
  deviceId: string;
  /** The incarnation the gateway follows (null until the lock's first event or state). */
  incarnation: string | null;
  /** For the operator: the lock was reset, or its event chain broke. */
  note: string | null;
  noteAt: number | null;
}

export async function deviceInfo(db: GatewayDb, deviceId: string): Promise<DeviceInfo> {
  const row = await db.get<{ incarnation: string | null; note: string | null; note_at: number | null }>(
    'SELECT incarnation, note, note_at FROM devices WHERE device_id = ?',
    [deviceId],
  );
  if (!row) throw unknownDevice(deviceId);
  return { deviceId, incarnation: row.incarnation, note: row.note, noteAt: row.note_at };
}

export async function setDeviceNote(
  db: GatewayDb,
  deviceId: string,
  note: string,
  now = Date.now(),
): Promise<void> {
  await db.run('UPDATE devices SET note = ?, note_at = ? WHERE device_id = ?', [note, now, deviceId]);
}

async function currentIncarnation(db: GatewayDb, deviceId: string): Promise<string> {
  const row = await db.get<{ incarnation: string | null }>(
    'SELECT incarnation FROM devices WHERE device_id = ?',
    [deviceId],
  );
  return row?.incarnation ?? '';
}

/**
 * What a signed incarnation id (from an event or the lock's state) means for the stream:
 * `first` (the gateway had none: it adopts it, with the rows it stored before it knew
 * incarnations), `current`, `reset` (a new one: the lock's database was wiped and made
 * again; its seqs start over, the device gets a note), or `old` (one that was replaced
 * before: a late or replayed message; it never becomes current again).
 */
export type IncarnationChange =
  | { kind: 'first' | 'current' | 'old' }
  | { kind: 'reset'; previous: string; note: string };

export async function noteIncarnation(
  db: GatewayDb,
  deviceId: string,
  incarnation: string,
  now = Date.now(),
): Promise<IncarnationChange> {
  return db.transaction(async (tx) => {
    await lockDevices(tx, [deviceId]);
    const [change] = await noteIncarnations(tx, [{ deviceId, incarnation }], now);
    return change!;
  });
}

/**
 * noteIncarnation for many messages in arrival order, with the same judgements: they are
 * made in memory from one read of the devices' incarnations, and written with a few
 * set-based statements whatever their number. Run it inside a transaction holding the
 * devices (lockDevices), before storing events or acks of those devices (a first
 * incarnation adopts the rows stored before it).
 */
export async function noteIncarnations(
  db: GatewayDb,
  notes: readonly { deviceId: string; incarnation: string }[],
  now = Date.now(),
): Promise<IncarnationChange[]> {
  const deviceIds = [...new Set(notes.map((n) => n.deviceId))];
  const current = new Map<string, string>();
  const seen = new Map<string, Set<string>>();
  const lastOrder = new Map<string, number>();
  for (const chunk of chunked(deviceIds, 1)) {
    const marks = chunk.map(() => '?').join(', ');
    for (const row of await db.all<{ device_id: string; incarnation: string | null }>(
      `SELECT device_id, incarnation FROM devices WHERE device_id IN (${marks})`,
      chunk,
    ))
      current.set(row.device_id, row.incarnation ?? '');
    for (const row of await db.all<{ device_id: string; incarnation: string; seen_order: number }>(
      `SELECT device_id, incarnation, seen_order FROM incarnations WHERE device_id IN (${marks})`,
      chunk,
    )) {
      seen.set(row.device_id, (seen.get(row.device_id) ?? new Set()).add(row.incarnation));
      lastOrder.set(row.device_id, Math.max(lastOrder.get(row.device_id) ?? 0, row.seen_order));
    }
  }
  const inserted: { deviceId: string; incarnation: string; order: number }[] = [];
  const adopted: { deviceId: string; incarnation: string }[] = [];
  const notesByDevice = new Map<string, string>();
  const changes = notes.map(({ deviceId, incarnation }): IncarnationChange => {
    const was = current.get(deviceId) ?? '';
    if (was === incarnation) return { kind: 'current' };
    const known = seen.get(deviceId) ?? new Set<string>();
    if (known.has(incarnation)) return { kind: 'old' };
    seen.set(deviceId, known.add(incarnation));
    const order = (lastOrder.get(deviceId) ?? 0) + 1;
    lastOrder.set(deviceId, order);
    inserted.push({ deviceId, incarnation, order });
    current.set(deviceId, incarnation);
    if (was === '') {
      adopted.push({ deviceId, incarnation });
      return { kind: 'first' };
    }
    const note = `lock reset: new incarnation ${incarnation} (was ${was}) since ${new Date(now).toISOString()}; its event seqs start again`;
    notesByDevice.set(deviceId, note);
    return { kind: 'reset', previous: was, note };
  });
  for (const chunk of chunked(inserted, 4))
    await db.run(
      `INSERT INTO incarnations (device_id, incarnation, first_seen, seen_order)
       VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
      chunk.flatMap((i) => [i.deviceId, i.incarnation, now, i.order]),
    );
  const pairs = (rows: [string, string][]) => rows.map(() => '(?, ?)').join(', ');
  // Rows stored before the gateway knew incarnations belong to the first one it learns.
  for (const chunk of chunked(adopted, 2)) {
    const values = pairs(chunk.map((a) => [a.deviceId, a.incarnation]));
    const params = chunk.flatMap((a) => [a.deviceId, a.incarnation]);
    for (const table of ['events', 'acks'])
      await db.run(
        `UPDATE ${table} SET incarnation = k.column2 FROM (VALUES ${values}) AS k
         WHERE ${table}.device_id = k.column1 AND ${table}.incarnation = ''`,
        params,
      );
  }
  const changedIds = new Set(inserted.map((i) => i.deviceId));
  const changed = [...changedIds].map((id): [string, string] => [id, current.get(id)!]);
  for (const chunk of chunked(changed, 2))
    await db.run(
      `UPDATE devices SET incarnation = k.column2 FROM (VALUES ${pairs(chunk)}) AS k
       WHERE devices.device_id = k.column1`,
      chunk.flat(),
    );
  const reset = [...notesByDevice];
  for (const chunk of chunked(reset, 2))
    await db.run(
      `UPDATE devices SET note = k.column2, note_at = ? FROM (VALUES ${pairs(chunk)}) AS k
       WHERE devices.device_id = k.column1`,
      [now, ...chunk.flat()],
    );
  return changes;
}

export type StoreResult = { stored: false } | { stored: true; chainBreak: boolean };

/**
 * Bound parameters per statement: under SQLite's 32766 and PostgreSQL's 65535, so a
 * batch of any size is a handful of statements.
 */
const MAX_PARAMS = 30000;

function chunked<T>(items: readonly T[], paramsPerItem: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / paramsPerItem));
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** `(?, ?, CAST(? AS BIGINT)), ...`: (device, incarnation, seq) keys as a VALUES list (columns column1..3 in both dialects). */
const keyValues = (count: number) =>
  Array.from({ length: count }, () => '(?, ?, CAST(? AS BIGINT))').join(', ');

const eventKey = (deviceId: string, incarnation: string, seq: number) =>
  `${deviceId}\n${incarnation}\n${seq}`;

/**
 * Stores one event unless already stored; see storeEvents.
 */
export async function storeEvent(db: GatewayDb, event: StoredEvent, now = Date.now()): Promise<StoreResult> {
  const [result] = await storeEvents(db, [event], now);
  return result!;
}

/**
 * Stores events unless already stored (duplicates after a resend, or one another worker
 * took; within the batch the first copy wins), and checks that the audit chain continues:
 * an event's prev_hash must equal the stored hash of seq - 1 in the same incarnation, and
 * its hash the stored prev_hash of seq + 1 (when the gateway has them; rows stored earlier
 * in the batch count). A break flags the later row of the pair and is reported on the event
 * whose storing found it, exactly as storing the events one by one in order would.
 * A few set-based statements whatever the batch size. Run it inside a transaction holding
 * the devices (lockDevices) when several workers share the database.
 */
export async function storeEvents(
  db: GatewayDb,
  events: readonly StoredEvent[],
  now = Date.now(),
): Promise<StoreResult[]> {
  const results: StoreResult[] = events.map(() => ({ stored: false }));
  if (events.length === 0) return results;
  const firstCopy = new Map<string, number>();
  events.forEach((e, index) => {
    const key = eventKey(e.deviceId, e.incarnation, e.seq);
    if (!firstCopy.has(key)) firstCopy.set(key, index);
  });
  const candidates = [...firstCopy.values()];
  const inserted = new Set<string>();
  for (const chunk of chunked(candidates, 11)) {
    const rows = await db.all<{ device_id: string; incarnation: string; seq: number }>(
      `INSERT INTO events (device_id, incarnation, seq, boot_id, at, type, data, prev_seq, hash, prev_hash, received_at)
       VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
       ON CONFLICT (device_id, incarnation, seq) DO NOTHING RETURNING device_id, incarnation, seq`,
      chunk.flatMap((index) => {
        const e = events[index]!;
        return [
          e.deviceId,
          e.incarnation,
          e.seq,
          e.bootId,
          e.at,
          e.type,
          JSON.stringify(e.data),
          e.prevSeq,
          e.hash,
          e.prevHash,
          now,
        ];
      }),
    );
    for (const row of rows) inserted.add(eventKey(row.device_id, row.incarnation, Number(row.seq)));
  }
  /** Order of storing among the new rows (the order of the batch). */
  const storedAt = new Map<string, number>();
  for (const index of candidates) {
    const e = events[index]!;
    const key = eventKey(e.deviceId, e.incarnation, e.seq);
    if (inserted.has(key)) {
      storedAt.set(key, index);
      results[index] = { stored: true, chainBreak: false };
    }
  }
  if (storedAt.size === 0) return results;
  // Every stored row next to a new one (the new ones included), read at once.
  const wanted = new Map<string, [string, string, number]>();
  for (const index of storedAt.values()) {
    const e = events[index]!;
    for (const seq of [e.seq - 1, e.seq, e.seq + 1])
      wanted.set(eventKey(e.deviceId, e.incarnation, seq), [e.deviceId, e.incarnation, seq]);
  }
  const links = new Map<string, { hash: string | null; prev_hash: string | null }>();
  for (const chunk of chunked([...wanted.values()], 3)) {
    const rows = await db.all<{
      device_id: string;
      incarnation: string;
      seq: number;
      hash: string | null;
      prev_hash: string | null;
    }>(
      `SELECT e.device_id, e.incarnation, e.seq, e.hash, e.prev_hash FROM events e
       JOIN (VALUES ${keyValues(chunk.length)}) AS k
         ON e.device_id = k.column1 AND e.incarnation = k.column2 AND e.seq = k.column3`,
      chunk.flat(),
    );
    for (const row of rows) links.set(eventKey(row.device_id, row.incarnation, Number(row.seq)), row);
  }
  // Each pair (seq - 1, seq) with a new row in it is judged once, by whichever of the two
  // was stored later; a break flags the row at seq.
  const broken: [string, string, number][] = [];
  for (const [key, index] of storedAt) {
    const e = events[index]!;
    const row = links.get(key)!;
    for (const [lowSeq, highSeq] of [
      [e.seq - 1, e.seq],
      [e.seq, e.seq + 1],
    ] as const) {
      const otherSeq = lowSeq === e.seq ? highSeq : lowSeq;
      const otherKey = eventKey(e.deviceId, e.incarnation, otherSeq);
      const other = links.get(otherKey);
      if (!other) continue;
      const otherStoredAt = storedAt.get(otherKey);
      if (otherStoredAt !== undefined && otherStoredAt > index) continue; // the other one judges it
      const low = lowSeq === e.seq ? row : other;
      const high = lowSeq === e.seq ? other : row;
      if (low.hash && high.prev_hash && low.hash !== high.prev_hash) {
        broken.push([e.deviceId, e.incarnation, highSeq]);
        results[index] = { stored: true, chainBreak: true };
      }
    }
  }
  for (const chunk of chunked(broken, 3)) {
    await db.run(
      `UPDATE events SET chain_break = 1 WHERE (device_id, incarnation, seq) IN (VALUES ${keyValues(chunk.length)})`,
      chunk.flat(),
    );
  }
  return results;
}

/**
 * How far the gateway may acknowledge in the device's current incarnation (or the one
 * given): see advanceAcks. Records the new ack.
 */
export async function advanceAck(
  db: GatewayDb,
  deviceId: string,
  incarnation?: string,
): Promise<{ incarnation: string; previous: number; seq: number }> {
  return db.transaction(async (tx) => {
    await lockDevices(tx, [deviceId]);
    const stream = incarnation ?? (await currentIncarnation(tx, deviceId));
    const [ack] = await advanceAcks(tx, [{ deviceId, incarnation: stream }]);
    return { incarnation: stream, previous: ack!.previous, seq: ack!.seq };
  });
}

export interface AdvancedAck {
  deviceId: string;
  incarnation: string;
  previous: number;
  seq: number;
  /** The events the new ack covers (previous < seq <= new ack), in seq order. */
  released: StoredEvent[];
}

/**
 * How far the gateway may acknowledge in each given stream: from its last ack, follow each
 * event to the next one the lock queued after it (`prev_seq` at or below the current
 * point), as long as the chain has no hole. Records the new acks. Computed from the stored
 * rows only, so it is right whichever worker stored which event. Three statements per
 * chunk of streams, whatever their number. Run it inside a transaction holding the devices.
 */
export async function advanceAcks(
  db: GatewayDb,
  streams: readonly { deviceId: string; incarnation: string }[],
): Promise<AdvancedAck[]> {
  const results: AdvancedAck[] = [];
  for (const chunk of chunked(streams, 3)) {
    const previous = new Map<string, number>();
    for (const row of await db.all<{ device_id: string; incarnation: string; seq: number }>(
      `SELECT a.device_id, a.incarnation, a.seq FROM acks a
       JOIN (VALUES ${chunk.map(() => '(?, ?)').join(', ')}) AS k ON a.device_id = k.column1 AND a.incarnation = k.column2`,
      chunk.flatMap((s) => [s.deviceId, s.incarnation]),
    ))
      previous.set(`${row.device_id}\n${row.incarnation}`, row.seq);
    const starts = chunk.map((s) => ({
      ...s,
      previous: previous.get(`${s.deviceId}\n${s.incarnation}`) ?? 0,
    }));
    const unacked = new Map<string, EventRow[]>();
    for (const row of await db.all<EventRow & { device_id: string; incarnation: string }>(
      `SELECT e.device_id, e.incarnation, ${EVENT_COLUMNS} FROM events e
       JOIN (VALUES ${keyValues(starts.length)}) AS k
         ON e.device_id = k.column1 AND e.incarnation = k.column2 AND e.seq > k.column3
       ORDER BY e.device_id, e.incarnation, e.seq`,
      starts.flatMap((s) => [s.deviceId, s.incarnation, s.previous]),
    )) {
      const key = `${row.device_id}\n${row.incarnation}`;
      const rows = unacked.get(key);
      if (rows) rows.push(row);
      else unacked.set(key, [row]);
    }
    const moved: AdvancedAck[] = [];
    for (const start of starts) {
      const rows = unacked.get(`${start.deviceId}\n${start.incarnation}`) ?? [];
      // In seq order, the first row queued at or below the point continues the chain;
      // rows passed over lie below the new point and can never continue it.
      let seq = start.previous;
      for (const row of rows) if (row.prev_seq <= seq) seq = row.seq;
      const released = rows
        .filter((row) => row.seq <= seq)
        .map((row) => toStoredEvent(row, start.deviceId, start.incarnation));
      const ack = { ...start, seq, released };
      results.push(ack);
      if (seq !== start.previous) moved.push(ack);
    }
    if (moved.length > 0)
      await db.run(
        `INSERT INTO acks (device_id, incarnation, seq) VALUES ${moved.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT (device_id, incarnation) DO UPDATE SET seq = excluded.seq`,
        moved.flatMap((a) => [a.deviceId, a.incarnation, a.seq]),
      );
  }
  return results;
}

/**
 * The lock's signed state says it holds events up to `lockAcked` as acknowledged (by this
 * gateway before a restore, or by another one): they will never be sent again, so this
 * gateway continues from there. Returns the range it skipped, if it was behind.
 */
export async function catchUpAck(
  db: GatewayDb,
  deviceId: string,
  incarnation: string,
  lockAcked: number,
): Promise<{ previous: number; seq: number } | undefined> {
  return db.transaction(async (tx) => {
    await lockDevices(tx, [deviceId]);
    const [skipped] = await catchUpAcks(tx, [{ deviceId, incarnation, lockAcked }]);
    return skipped;
  });
}

/**
 * catchUpAck for many states in arrival order, with the same answers: one read of the
 * acks and one upsert, per chunk of streams. Run it inside a transaction holding the devices.
 */
export async function catchUpAcks(
  db: GatewayDb,
  states: readonly { deviceId: string; incarnation: string; lockAcked: number }[],
): Promise<({ previous: number; seq: number } | undefined)[]> {
  const streamKey = (deviceId: string, incarnation: string) => `${deviceId}\n${incarnation}`;
  const streams = new Map<string, { deviceId: string; incarnation: string }>();
  for (const { deviceId, incarnation } of states)
    streams.set(streamKey(deviceId, incarnation), { deviceId, incarnation });
  const acked = new Map<string, number>();
  for (const chunk of chunked([...streams.values()], 2))
    for (const row of await db.all<{ device_id: string; incarnation: string; seq: number }>(
      `SELECT a.device_id, a.incarnation, a.seq FROM acks a
       JOIN (VALUES ${chunk.map(() => '(?, ?)').join(', ')}) AS k ON a.device_id = k.column1 AND a.incarnation = k.column2`,
      chunk.flatMap((s) => [s.deviceId, s.incarnation]),
    ))
      acked.set(streamKey(row.device_id, row.incarnation), row.seq);
  const moved = new Set<string>();
  const skipped = states.map(({ deviceId, incarnation, lockAcked }) => {
    const key = streamKey(deviceId, incarnation);
    const previous = acked.get(key) ?? 0;
    if (lockAcked <= previous) return undefined;
    acked.set(key, lockAcked);
    moved.add(key);
    return { previous, seq: lockAcked };
  });
  const rows = [...moved].map((key) => ({ ...streams.get(key)!, seq: acked.get(key)! }));
  for (const chunk of chunked(rows, 3))
    await db.run(
      `INSERT INTO acks (device_id, incarnation, seq) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
       ON CONFLICT (device_id, incarnation) DO UPDATE SET seq = excluded.seq`,
      chunk.flatMap((a) => [a.deviceId, a.incarnation, a.seq]),
    );
  return skipped;
}

export async function lastAck(db: GatewayDb, deviceId: string, incarnation?: string): Promise<number> {
  const stream = incarnation ?? (await currentIncarnation(db, deviceId));
  const row = await db.get<{ seq: number }>('SELECT seq FROM acks WHERE device_id = ? AND incarnation = ?', [
    deviceId,
    stream,
  ]);
  return row?.seq ?? 0;
}

/** The incarnations the gateway has stored events of, in the order it saw them ('' for rows from before incarnations). */
export async function listIncarnations(db: GatewayDb, deviceId: string): Promise<string[]> {
  const rows = await db.all<{ incarnation: string }>(
    `SELECT e.incarnation, MIN(COALESCE(i.seen_order, 0)) AS seen_order FROM events e LEFT JOIN incarnations i
       ON i.device_id = e.device_id AND i.incarnation = e.incarnation
     WHERE e.device_id = ? GROUP BY e.incarnation ORDER BY seen_order, e.incarnation`,
    [deviceId],
  );
  return rows.map((r) => r.incarnation);
}

/** Stored events of one incarnation (the device's current one by default), in seq order. */
export async function listEvents(
  db: GatewayDb,
  deviceId: string,
  afterSeq = 0,
  limit = 1000,
  incarnation?: string,
): Promise<StoredEvent[]> {
  const stream = incarnation ?? (await currentIncarnation(db, deviceId));
  const rows = await db.all<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events
     WHERE device_id = ? AND incarnation = ? AND seq > ? ORDER BY seq LIMIT ?`,
    [deviceId, stream, afterSeq, limit],
  );
  return rows.map((r) => toStoredEvent(r, deviceId, stream));
}

const EVENT_COLUMNS = 'seq, prev_seq, boot_id, at, type, data, hash, prev_hash, chain_break';

interface EventRow {
  seq: number;
  prev_seq: number;
  boot_id: string;
  at: string;
  type: string;
  data: string;
  hash: string | null;
  prev_hash: string | null;
  chain_break: number;
}

function toStoredEvent(r: EventRow, deviceId: string, incarnation: string): StoredEvent {
  return {
    deviceId,
    incarnation,
    seq: r.seq,
    prevSeq: r.prev_seq,
    bootId: r.boot_id,
    at: r.at,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    hash: r.hash,
    prevHash: r.prev_hash,
    chainBreak: r.chain_break === 1,
  };
}

export async function storeReported(
  db: GatewayDb,
  deviceId: string,
  revision: number,
  body: unknown,
  now = Date.now(),
): Promise<void> {
  await storeReportedMany(db, [{ deviceId, revision, body }], now);
}

/**
 * Stores each device's reported codes: the last one given per device replaces what is
 * stored, whatever its revision (as storing them one by one in order would). One upsert
 * per chunk of devices.
 */
export async function storeReportedMany(
  db: GatewayDb,
  reports: readonly { deviceId: string; revision: number; body: unknown }[],
  now = Date.now(),
): Promise<void> {
  const last = new Map(reports.map((r) => [r.deviceId, r]));
  for (const chunk of chunked([...last.values()], 4))
    await db.run(
      `INSERT INTO reported (device_id, revision, body, received_at) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}
       ON CONFLICT (device_id) DO UPDATE SET revision = excluded.revision, body = excluded.body, received_at = excluded.received_at`,
      chunk.flatMap((r) => [r.deviceId, r.revision, JSON.stringify(r.body), now]),
    );
}
