import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TumblerError } from '../../firmware/errors.ts';

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

/** The gateway's own SQLite file: device secrets, command counters, revisions, received events. */
export function openGatewayDb(path: string): GatewayDb {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let db: GatewayDb;
  try {
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
  seq: number;
  /** The event queued before this one on the lock (skips events acknowledged or dropped there). */
  prevSeq: number;
  bootId: string;
  at: string;
  type: string;
  data: Record<string, unknown>;
}

/** Stores an event unless already stored (duplicates after a resend). True when it was new. */
export function storeEvent(db: GatewayDb, event: StoredEvent, now = Date.now()): boolean {
  const result = cached(
    db,
    'INSERT OR IGNORE INTO events (device_id, seq, boot_id, at, type, data, prev_seq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  ).run(
    event.deviceId,
    event.seq,
    event.bootId,
    event.at,
    event.type,
    JSON.stringify(event.data),
    event.prevSeq,
    now,
  );
  return result.changes === 1;
}

/**
 * How far this gateway may acknowledge: from its last ack, follow each event to the next
 * one the lock queued after it (`prev_seq` at or below the current point), as long as the
 * chain has no hole. Records the new ack.
 */
export function advanceAck(db: GatewayDb, deviceId: string): { previous: number; seq: number } {
  return db
    .transaction(() => {
      const previous =
        (cached(db, 'SELECT seq FROM acks WHERE device_id = ?').get(deviceId) as { seq: number } | undefined)
          ?.seq ?? 0;
      const next = cached(
        db,
        'SELECT MIN(seq) AS seq FROM events WHERE device_id = ? AND seq > ? AND prev_seq <= ?',
      );
      let seq = previous;
      for (;;) {
        const row = next.get(deviceId, seq, seq) as { seq: number | null } | undefined;
        if (!row || row.seq === null) break;
        seq = row.seq;
      }
      if (seq !== previous) {
        cached(
          db,
          'INSERT INTO acks (device_id, seq) VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq',
        ).run(deviceId, seq);
      }
      return { previous, seq };
    })
    .immediate();
}

export function lastAck(db: GatewayDb, deviceId: string): number {
  return (
    db.prepare<[string], { seq: number }>('SELECT seq FROM acks WHERE device_id = ?').get(deviceId)?.seq ?? 0
  );
}

export function listEvents(db: GatewayDb, deviceId: string, afterSeq = 0, limit = 1000): StoredEvent[] {
  return db
    .prepare<
      [string, number, number],
      { seq: number; prev_seq: number; boot_id: string; at: string; type: string; data: string }
    >(
      'SELECT seq, prev_seq, boot_id, at, type, data FROM events WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    )
    .all(deviceId, afterSeq, limit)
    .map((r) => ({
      deviceId,
      seq: r.seq,
      prevSeq: r.prev_seq,
      bootId: r.boot_id,
      at: r.at,
      type: r.type,
      data: JSON.parse(r.data) as Record<string, unknown>,
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
