import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TumblerError } from '../firmware/errors.ts';

export type GatewayDb = Database.Database;

const SCHEMA = [
  `CREATE TABLE devices (
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
  // 2: events are keyed by the lock database's incarnation too (a wiped and re-provisioned
  // lock starts its seqs again), carry the audit chain's hashes, and are flagged when the
  // chain does not continue; acks are per incarnation; a device remembers its current
  // incarnation, every one it has seen, and a note for the operator. Rows from before
  // have incarnation '' until the device's first event or state names its incarnation.
  `CREATE TABLE events_v2 (
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
];

export const DEFAULT_GATEWAY_DB = '.tumbler/gateway.db';

const statements = new WeakMap<GatewayDb, Map<string, Database.Statement>>();

/** Prepares each SQL text once per connection (the event path runs per message). */
function cached(db: GatewayDb, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) {
    byText = new Map();
    statements.set(db, byText);
  }
  let statement = byText.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    byText.set(sql, statement);
  }
  return statement;
}

/**
 * The gateway's own SQLite file: device secrets (in clear: a secret store, mode 0600),
 * command counters, revisions, received events.
 */
export function openGatewayDb(path: string): GatewayDb {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: GatewayDb;
  try {
    // It holds every device secret in clear: 0600 whatever the umask, and an older file
    // made wider is narrowed. SQLite gives its -wal and -shm files the same mode.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    db = new Database(path);
  } catch (error) {
    throw new TumblerError('gateway_db', `cannot open gateway database ${path}: ${(error as Error).message}`);
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version + 1; v <= SCHEMA.length; v++) {
    db.transaction(() => {
      db.exec(SCHEMA[v - 1]!);
      db.pragma(`user_version = ${v}`);
    }).immediate();
  }
  return db;
}

export interface DeviceRecord {
  deviceId: string;
  secret: Uint8Array;
}

export function addDevice(db: GatewayDb, deviceId: string, secret: Uint8Array, now = Date.now()): void {
  const existing = db
    .prepare<[string], { secret: string }>('SELECT secret FROM devices WHERE device_id = ?')
    .get(deviceId);
  const hex = Buffer.from(secret).toString('hex');
  if (existing) {
    if (existing.secret !== hex) {
      throw new TumblerError(
        'device_exists',
        `device ${deviceId} is already registered with a different secret`,
      );
    }
    return;
  }
  db.prepare('INSERT INTO devices (device_id, secret, created_at) VALUES (?, ?, ?)').run(deviceId, hex, now);
}

export function getDevice(db: GatewayDb, deviceId: string): DeviceRecord {
  const row = db
    .prepare<[string], { secret: string }>('SELECT secret FROM devices WHERE device_id = ?')
    .get(deviceId);
  if (!row) {
    throw new TumblerError(
      'unknown_device',
      `device ${deviceId} is not registered here (lockctl provision or lockctl device add)`,
    );
  }
  return { deviceId, secret: new Uint8Array(Buffer.from(row.secret, 'hex')) };
}

export function listDevices(db: GatewayDb): string[] {
  return db
    .prepare<[], { device_id: string }>('SELECT device_id FROM devices ORDER BY device_id')
    .all()
    .map((r) => r.device_id);
}

/** Takes the next command counter (persisted first, so no two commands share one). */
export function takeCounter(db: GatewayDb, deviceId: string): number {
  return db
    .transaction(() => {
      const row = db
        .prepare<[string], { next_counter: number }>('SELECT next_counter FROM devices WHERE device_id = ?')
        .get(deviceId);
      if (!row) throw new TumblerError('unknown_device', `device ${deviceId} is not registered here`);
      db.prepare('UPDATE devices SET next_counter = next_counter + 1 WHERE device_id = ?').run(deviceId);
      return row.next_counter;
    })
    .immediate();
}

/**
 * The lock's signed state says it accepted commands up to `lastCounter`: the next one
 * this gateway takes must be above it (a gateway restored from a backup, or a new one).
 * Returns true when the counter moved.
 */
export function raiseCounter(db: GatewayDb, deviceId: string, lastCounter: number): boolean {
  return (
    db
      .prepare('UPDATE devices SET next_counter = ? WHERE device_id = ? AND next_counter <= ?')
      .run(lastCounter + 1, deviceId, lastCounter).changes === 1
  );
}

/** The next desired revision: above both what we sent and what the lock reports applied. */
export function takeRevision(db: GatewayDb, deviceId: string, reportedRevision: number): number {
  return db
    .transaction(() => {
      const row = db
        .prepare<[string], { desired_revision: number }>(
          'SELECT desired_revision FROM devices WHERE device_id = ?',
        )
        .get(deviceId);
      if (!row) throw new TumblerError('unknown_device', `device ${deviceId} is not registered here`);
      const revision = Math.max(row.desired_revision, reportedRevision) + 1;
      db.prepare('UPDATE devices SET desired_revision = ? WHERE device_id = ?').run(revision, deviceId);
      return revision;
    })
    .immediate();
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

export function deviceInfo(db: GatewayDb, deviceId: string): DeviceInfo {
  const row = db
    .prepare<[string], { incarnation: string | null; note: string | null; note_at: number | null }>(
      'SELECT incarnation, note, note_at FROM devices WHERE device_id = ?',
    )
    .get(deviceId);
  if (!row) throw new TumblerError('unknown_device', `device ${deviceId} is not registered here`);
  return { deviceId, incarnation: row.incarnation, note: row.note, noteAt: row.note_at };
}

export function setDeviceNote(db: GatewayDb, deviceId: string, note: string, now = Date.now()): void {
  db.prepare('UPDATE devices SET note = ?, note_at = ? WHERE device_id = ?').run(note, now, deviceId);
}

function currentIncarnation(db: GatewayDb, deviceId: string): string {
  const row = cached(db, 'SELECT incarnation FROM devices WHERE device_id = ?').get(deviceId) as
    | { incarnation: string | null }
    | undefined;
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

export function noteIncarnation(
  db: GatewayDb,
  deviceId: string,
  incarnation: string,
  now = Date.now(),
): IncarnationChange {
  return db
    .transaction((): IncarnationChange => {
      const current = currentIncarnation(db, deviceId);
      if (current === incarnation) return { kind: 'current' };
      const seen = cached(
        db,
        'SELECT 1 AS one FROM incarnations WHERE device_id = ? AND incarnation = ?',
      ).get(deviceId, incarnation);
      if (seen) return { kind: 'old' };
      cached(db, 'INSERT INTO incarnations (device_id, incarnation, first_seen) VALUES (?, ?, ?)').run(
        deviceId,
        incarnation,
        now,
      );
      cached(db, 'UPDATE devices SET incarnation = ? WHERE device_id = ?').run(incarnation, deviceId);
      if (current === '') {
        cached(db, "UPDATE events SET incarnation = ? WHERE device_id = ? AND incarnation = ''").run(
          incarnation,
          deviceId,
        );
        cached(db, "UPDATE acks SET incarnation = ? WHERE device_id = ? AND incarnation = ''").run(
          incarnation,
          deviceId,
        );
        return { kind: 'first' };
      }
      const note = `lock reset: new incarnation ${incarnation} (was ${current}) since ${new Date(now).toISOString()}; its event seqs start again`;
      setDeviceNote(db, deviceId, note, now);
      return { kind: 'reset', previous: current, note };
    })
    .immediate();
}

export type StoreResult = { stored: false } | { stored: true; chainBreak: boolean };

/**
 * Stores an event unless already stored (duplicates after a resend), and checks that the
 * audit chain continues: its prev_hash must equal the stored hash of seq - 1 in the same
 * incarnation, and its hash the stored prev_hash of seq + 1 (when the gateway has them).
 */
export function storeEvent(db: GatewayDb, event: StoredEvent, now = Date.now()): StoreResult {
  const result = cached(
    db,
    `INSERT OR IGNORE INTO events (device_id, incarnation, seq, boot_id, at, type, data, prev_seq, hash, prev_hash, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    event.deviceId,
    event.incarnation,
    event.seq,
    event.bootId,
    event.at,
    event.type,
    JSON.stringify(event.data),
    event.prevSeq,
    event.hash,
    event.prevHash,
    now,
  );
  if (result.changes !== 1) return { stored: false };
  const neighbour = cached(
    db,
    'SELECT hash, prev_hash FROM events WHERE device_id = ? AND incarnation = ? AND seq = ?',
  );
  const flag = cached(
    db,
    'UPDATE events SET chain_break = 1 WHERE device_id = ? AND incarnation = ? AND seq = ?',
  );
  let chainBreak = false;
  const before = neighbour.get(event.deviceId, event.incarnation, event.seq - 1) as
    | { hash: string | null }
    | undefined;
  if (before?.hash && event.prevHash && before.hash !== event.prevHash) {
    flag.run(event.deviceId, event.incarnation, event.seq);
    chainBreak = true;
  }
  const after = neighbour.get(event.deviceId, event.incarnation, event.seq + 1) as
    | { prev_hash: string | null }
    | undefined;
  if (after?.prev_hash && event.hash && after.prev_hash !== event.hash) {
    flag.run(event.deviceId, event.incarnation, event.seq + 1);
    chainBreak = true;
  }
  return { stored: true, chainBreak };
}

/**
 * How far this gateway may acknowledge in the device's current incarnation: from its
 * last ack, follow each event to the next one the lock queued after it (`prev_seq` at or
 * below the current point), as long as the chain has no hole. Records the new ack.
 */
export function advanceAck(
  db: GatewayDb,
  deviceId: string,
  incarnation = currentIncarnation(db, deviceId),
): { incarnation: string; previous: number; seq: number } {
  return db
    .transaction(() => {
      const previous = lastAck(db, deviceId, incarnation);
      const next = cached(
        db,
        'SELECT MIN(seq) AS seq FROM events WHERE device_id = ? AND incarnation = ? AND seq > ? AND prev_seq <= ?',
      );
      let seq = previous;
      for (;;) {
        const row = next.get(deviceId, incarnation, seq, seq) as { seq: number | null } | undefined;
        if (!row || row.seq === null) break;
        seq = row.seq;
      }
      if (seq !== previous) setAck(db, deviceId, incarnation, seq);
      return { incarnation, previous, seq };
    })
    .immediate();
}

function setAck(db: GatewayDb, deviceId: string, incarnation: string, seq: number): void {
  cached(
    db,
    `INSERT INTO acks (device_id, incarnation, seq) VALUES (?, ?, ?)
     ON CONFLICT (device_id, incarnation) DO UPDATE SET seq = excluded.seq`,
  ).run(deviceId, incarnation, seq);
}

/**
 * The lock's signed state says it holds events up to `lockAcked` as acknowledged (by this
 * gateway before a restore, or by another one): they will never be sent again, so this
 * gateway continues from there. Returns the range it skipped, if it was behind.
 */
export function catchUpAck(
  db: GatewayDb,
  deviceId: string,
  incarnation: string,
  lockAcked: number,
): { previous: number; seq: number } | undefined {
  return db
    .transaction(() => {
      const previous = lastAck(db, deviceId, incarnation);
      if (lockAcked <= previous) return undefined;
      setAck(db, deviceId, incarnation, lockAcked);
      return { previous, seq: lockAcked };
    })
    .immediate();
}

export function lastAck(
  db: GatewayDb,
  deviceId: string,
  incarnation = currentIncarnation(db, deviceId),
): number {
  return (
    (
      cached(db, 'SELECT seq FROM acks WHERE device_id = ? AND incarnation = ?').get(deviceId, incarnation) as
        | { seq: number }
        | undefined
    )?.seq ?? 0
  );
}

/** The incarnations the gateway has stored events of, in the order it saw them ('' for rows from before incarnations). */
export function listIncarnations(db: GatewayDb, deviceId: string): string[] {
  return db
    .prepare<[string], { incarnation: string }>(
      `SELECT DISTINCT e.incarnation FROM events e LEFT JOIN incarnations i
         ON i.device_id = e.device_id AND i.incarnation = e.incarnation
       WHERE e.device_id = ? ORDER BY COALESCE(i.rowid, 0)`,
    )
    .all(deviceId)
    .map((r) => r.incarnation);
}

/** Stored events of one incarnation (the device's current one by default), in seq order. */
export function listEvents(
  db: GatewayDb,
  deviceId: string,
  afterSeq = 0,
  limit = 1000,
  incarnation = currentIncarnation(db, deviceId),
): StoredEvent[] {
  return (
    cached(
      db,
      `SELECT seq, prev_seq, boot_id, at, type, data, hash, prev_hash, chain_break FROM events
       WHERE device_id = ? AND incarnation = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ).all(deviceId, incarnation, afterSeq, limit) as Array<{
      seq: number;
      prev_seq: number;
      boot_id: string;
      at: string;
      type: string;
      data: string;
      hash: string | null;
      prev_hash: string | null;
      chain_break: number;
    }>
  ).map((r) => ({
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
  }));
}

export function storeReported(
  db: GatewayDb,
  deviceId: string,
  revision: number,
  body: unknown,
  now = Date.now(),
): void {
  db.prepare(
    `INSERT INTO reported (device_id, revision, body, received_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET revision = excluded.revision, body = excluded.body, received_at = excluded.received_at`,
  ).run(deviceId, revision, JSON.stringify(body), now);
}
