import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  addDevice,
  advanceAck,
  deviceInfo,
  listEvents,
  listIncarnations,
  noteIncarnation,
  openGatewayDb,
  type StoredEvent,
  storeEvent,
} from '../../gateway/store.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';

const INC_A = 'a'.repeat(32);
const INC_B = 'b'.repeat(32);
const hash = (n: number) => n.toString(16).padStart(64, '0');

function event(seq: number, incarnation = INC_A, prevHash = hash(seq - 1)): StoredEvent {
  return {
    deviceId: 'door1',
    incarnation,
    seq,
    prevSeq: seq - 1,
    bootId: 'b00t',
    at: '2026-11-22T10:00:00.000Z',
    type: 'test_event',
    data: { seq },
    hash: hash(seq),
    prevHash,
    chainBreak: false,
  };
}

async function open(path = join(tempDir(), 'gateway.db')) {
  const db = await openGatewayDb(path);
  onCleanup(() => db.close());
  return db;
}

describe('the gateway database', () => {
  it('is a secret store: created 0600 whatever the umask, and a wider existing file is narrowed', async () => {
    const dir = tempDir();
    const fresh = join(dir, 'fresh.db');
    const previous = process.umask(0o000);
    try {
      await open(fresh);
    } finally {
      process.umask(previous);
    }
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    const wide = join(dir, 'wide.db');
    writeFileSync(wide, '');
    chmodSync(wide, 0o644);
    await open(wide);
    expect(statSync(wide).mode & 0o777).toBe(0o600);
  });

  it('keys events by incarnation: a reset lock’s seq 1 is stored, the device gets a note, an old incarnation never comes back', async () => {
    const db = await open();
    await addDevice(db, 'door1', new Uint8Array(32));
    expect((await noteIncarnation(db, 'door1', INC_A)).kind).toBe('first');
    for (const seq of [1, 2, 3])
      expect(await storeEvent(db, event(seq))).toEqual({ stored: true, chainBreak: false });
    expect(await storeEvent(db, event(2))).toEqual({ stored: false });
    expect(await advanceAck(db, 'door1')).toMatchObject({ incarnation: INC_A, seq: 3 });

    const reset = await noteIncarnation(db, 'door1', INC_B, Date.UTC(2026, 10, 23));
    expect(reset).toMatchObject({ kind: 'reset', previous: INC_A });
    expect(await storeEvent(db, event(1, INC_B))).toEqual({ stored: true, chainBreak: false });
    expect(await advanceAck(db, 'door1')).toMatchObject({ incarnation: INC_B, previous: 0, seq: 1 });
    expect(await deviceInfo(db, 'door1')).toMatchObject({
      incarnation: INC_B,
      note: expect.stringContaining(`lock reset: new incarnation ${INC_B} (was ${INC_A})`),
    });
    // A replayed message of the old life does not switch the stream back.
    expect((await noteIncarnation(db, 'door1', INC_A)).kind).toBe('old');
    expect((await deviceInfo(db, 'door1')).incarnation).toBe(INC_B);
    expect((await listEvents(db, 'door1', 0, 10, INC_A)).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await listEvents(db, 'door1')).map((e) => e.seq)).toEqual([1]);
    expect(await listIncarnations(db, 'door1')).toEqual([INC_A, INC_B]);
  });

  it('flags an event whose prev_hash does not match the stored hash of seq - 1, in either arrival order', async () => {
    const db = await open();
    await addDevice(db, 'door1', new Uint8Array(32));
    await noteIncarnation(db, 'door1', INC_A);
    await storeEvent(db, event(1));
    expect(await storeEvent(db, event(2, INC_A, hash(99)))).toEqual({ stored: true, chainBreak: true });
    await storeEvent(db, event(5, INC_A, hash(77)));
    expect(await storeEvent(db, event(4))).toEqual({ stored: true, chainBreak: true });
    expect((await listEvents(db, 'door1')).map((e) => [e.seq, e.chainBreak])).toEqual([
      [1, false],
      [2, true],
      [4, false],
      [5, true],
    ]);
  });

  it('migrates a version 1 database: its events and ack belong to the incarnation first seen', async () => {
    const path = join(tempDir(), 'v1.db');
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE devices (device_id TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at INTEGER NOT NULL,
               next_counter INTEGER NOT NULL DEFAULT 1, desired_revision INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE events (device_id TEXT NOT NULL, seq INTEGER NOT NULL, boot_id TEXT NOT NULL, at TEXT NOT NULL,
               type TEXT NOT NULL, data TEXT NOT NULL, prev_seq INTEGER NOT NULL, received_at INTEGER NOT NULL,
               PRIMARY KEY (device_id, seq)) WITHOUT ROWID;
             CREATE TABLE acks (device_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
             CREATE TABLE reported (device_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL,
               received_at INTEGER NOT NULL);
             INSERT INTO devices (device_id, secret, created_at) VALUES ('door1', '${'00'.repeat(32)}', 0);
             INSERT INTO events VALUES ('door1', 1, 'b', 'x', 'test_event', '{}', 0, 0), ('door1', 2, 'b', 'x', 'test_event', '{}', 1, 0);
             INSERT INTO acks VALUES ('door1', 2);
             PRAGMA user_version = 1;`);
    v1.close();
    const db = await open(path);
    expect((await noteIncarnation(db, 'door1', INC_A)).kind).toBe('first');
    expect((await listEvents(db, 'door1')).map((e) => [e.incarnation, e.seq])).toEqual([
      [INC_A, 1],
      [INC_A, 2],
    ]);
    await storeEvent(db, event(3));
    expect(await advanceAck(db, 'door1')).toMatchObject({ previous: 2, seq: 3 });
    expect((await deviceInfo(db, 'door1')).note).toBeNull();
  });
});
