import { describe, expect, it } from 'vitest';
import { schemaVersion } from '../../gateway/db/migrate.ts';
import {
  addDevice,
  advanceAck,
  advanceAcks,
  catchUpAck,
  catchUpAcks,
  deviceInfo,
  GATEWAY_MIGRATIONS,
  type GatewayDb,
  getDevice,
  lastAck,
  listDevices,
  listEvents,
  listIncarnations,
  lockDevices,
  noteIncarnation,
  noteIncarnations,
  openGatewayDb,
  raiseCounter,
  raiseCounters,
  type StoredEvent,
  storeEvent,
  storeEvents,
  storeReported,
  storeReportedMany,
  takeCounter,
  takeRevision,
} from '../../gateway/store.ts';
import { onCleanup } from '../helpers/tmp.ts';

const INC_A = 'a'.repeat(32);
const INC_B = 'b'.repeat(32);
const SECRET = new Uint8Array(32).fill(1);
const hash = (n: number) => n.toString(16).padStart(64, '0');

function event(
  seq: number,
  options: { incarnation?: string; prevSeq?: number; prevHash?: string } = {},
): StoredEvent {
  return {
    deviceId: 'door1',
    incarnation: options.incarnation ?? INC_A,
    seq,
    prevSeq: options.prevSeq ?? seq - 1,
    bootId: 'b00t',
    at: '2026-11-22T10:00:00.000Z',
    type: 'test_event',
    data: { seq, name: 'Zoë' },
    hash: hash(seq),
    prevHash: options.prevHash ?? hash(seq - 1),
    chainBreak: false,
  };
}

/**
 * The gateway store's contract (MQTT.js's abstractStoreTest idea): every implementation
 * passes the same tests. `newTarget` makes an empty database for the running test (a
 * SQLite file path or a postgres:// URL) and removes it afterwards; a test that opens it
 * twice plays two gateway workers on one database.
 */
export function gatewayStoreContract(name: string, newTarget: () => Promise<string>): void {
  async function open(target: string): Promise<GatewayDb> {
    const db = await openGatewayDb(target);
    onCleanup(() => db.close());
    return db;
  }
  /** A database with device door1 registered, opened as `workers` connections. */
  async function withDevice(workers = 1): Promise<GatewayDb[]> {
    const target = await newTarget();
    const dbs = [];
    for (let i = 0; i < workers; i++) dbs.push(await open(target));
    await addDevice(dbs[0]!, 'door1', SECRET);
    return dbs;
  }

  describe(`the gateway store contract: ${name}`, () => {
    it('migrates once: two workers opening a fresh database at the same time get one schema', async () => {
      const target = await newTarget();
      const [one, two] = await Promise.all([open(target), open(target)]);
      expect(await schemaVersion(one!, 'gateway')).toBe(GATEWAY_MIGRATIONS.length);
      const again = await open(target);
      expect(await schemaVersion(again, 'gateway')).toBe(GATEWAY_MIGRATIONS.length);
      const steps = await two!.all(
        'SELECT version FROM schema_migrations WHERE component = ? ORDER BY version',
        ['gateway'],
      );
      expect(steps.map((s) => s.version)).toEqual(GATEWAY_MIGRATIONS.map((_, i) => i + 1));
    });

    it('registers a device once; another secret for the same id is refused and changes nothing', async () => {
      const [db] = await withDevice();
      await addDevice(db!, 'door1', SECRET);
      await expect(addDevice(db!, 'door1', new Uint8Array(32).fill(2))).rejects.toMatchObject({
        code: 'device_exists',
      });
      expect((await getDevice(db!, 'door1')).secret).toEqual(SECRET);
      await addDevice(db!, 'annex', SECRET);
      expect(await listDevices(db!)).toEqual(['annex', 'door1']);
      await expect(getDevice(db!, 'nobody')).rejects.toMatchObject({ code: 'unknown_device' });
      await expect(takeCounter(db!, 'nobody')).rejects.toMatchObject({ code: 'unknown_device' });
      await expect(takeRevision(db!, 'nobody', 0)).rejects.toMatchObject({ code: 'unknown_device' });
    });

    it('stores an event once per (device, incarnation, seq), whichever worker receives it, text intact', async () => {
      const [a, b] = await withDevice(2);
      await noteIncarnation(a!, 'door1', INC_A);
      const results = await Promise.all([storeEvent(a!, event(1)), storeEvent(b!, event(1))]);
      expect(results.filter((r) => r.stored)).toHaveLength(1);
      expect(await storeEvent(b!, event(1))).toEqual({ stored: false });
      const [stored] = await listEvents(a!, 'door1');
      expect(stored).toEqual(event(1));
    });

    it('keys events by incarnation: a reset lock’s seq 1 is stored, the device gets a note, an old incarnation never comes back', async () => {
      const [db] = await withDevice();
      expect((await noteIncarnation(db!, 'door1', INC_A)).kind).toBe('first');
      expect((await noteIncarnation(db!, 'door1', INC_A)).kind).toBe('current');
      for (const seq of [1, 2, 3]) await storeEvent(db!, event(seq));
      expect(await advanceAck(db!, 'door1')).toEqual({ incarnation: INC_A, previous: 0, seq: 3 });
      const reset = await noteIncarnation(db!, 'door1', INC_B, Date.UTC(2026, 10, 23));
      expect(reset).toMatchObject({ kind: 'reset', previous: INC_A });
      expect(await storeEvent(db!, event(1, { incarnation: INC_B }))).toEqual({
        stored: true,
        chainBreak: false,
      });
      expect(await advanceAck(db!, 'door1')).toEqual({ incarnation: INC_B, previous: 0, seq: 1 });
      expect(await deviceInfo(db!, 'door1')).toMatchObject({
        incarnation: INC_B,
        note: expect.stringContaining(`lock reset: new incarnation ${INC_B} (was ${INC_A})`),
        noteAt: Date.UTC(2026, 10, 23),
      });
      expect((await noteIncarnation(db!, 'door1', INC_A)).kind).toBe('old');
      expect((await deviceInfo(db!, 'door1')).incarnation).toBe(INC_B);
      expect((await listEvents(db!, 'door1', 0, 10, INC_A)).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(await lastAck(db!, 'door1', INC_A)).toBe(3);
      expect(await listIncarnations(db!, 'door1')).toEqual([INC_A, INC_B]);
    });

    it('flags a broken audit chain in either arrival order', async () => {
      const [db] = await withDevice();
      await noteIncarnation(db!, 'door1', INC_A);
      await storeEvent(db!, event(1));
      expect(await storeEvent(db!, event(2, { prevHash: hash(99) }))).toEqual({
        stored: true,
        chainBreak: true,
      });
      await storeEvent(db!, event(5, { prevHash: hash(77) }));
      expect(await storeEvent(db!, event(4))).toEqual({ stored: true, chainBreak: true });
      expect((await listEvents(db!, 'door1')).map((e) => [e.seq, e.chainBreak])).toEqual([
        [1, false],
        [2, true],
        [4, false],
        [5, true],
      ]);
    });

    it('stores a batch of several locks in one go as if one by one: duplicates once, breaks within the batch', async () => {
      const [db] = await withDevice();
      await addDevice(db!, 'annex', SECRET);
      await noteIncarnation(db!, 'door1', INC_A);
      await noteIncarnation(db!, 'annex', INC_A);
      await storeEvent(db!, event(1));
      const annex = (seq: number, prevHash?: string): StoredEvent => ({
        ...event(seq, { prevHash }),
        deviceId: 'annex',
      });
      const results = await db!.transaction(async (tx) => {
        await lockDevices(tx, ['door1', 'annex']);
        return storeEvents(tx, [
          event(3),
          event(2, { prevHash: hash(99) }), // breaks against stored 1; 3 (earlier in the batch) links
          annex(1),
          annex(2, hash(55)), // breaks against annex 1 of the same batch
          event(1), // stored before the batch
          annex(1), // twice in the batch
          event(5, { prevHash: hash(77) }),
          event(4), // stored after 5: finds the break at 5
        ]);
      });
      expect(results).toEqual([
        { stored: true, chainBreak: false },
        { stored: true, chainBreak: true },
        { stored: true, chainBreak: false },
        { stored: true, chainBreak: true },
        { stored: false },
        { stored: false },
        { stored: true, chainBreak: false },
        { stored: true, chainBreak: true },
      ]);
      expect((await listEvents(db!, 'door1')).map((e) => [e.seq, e.chainBreak])).toEqual([
        [1, false],
        [2, true],
        [3, false],
        [4, false],
        [5, true],
      ]);
      expect((await listEvents(db!, 'annex')).map((e) => [e.seq, e.chainBreak])).toEqual([
        [1, false],
        [2, true],
      ]);
      const acks = await db!.transaction((tx) =>
        advanceAcks(tx, [
          { deviceId: 'door1', incarnation: INC_A },
          { deviceId: 'annex', incarnation: INC_A },
        ]),
      );
      expect(acks.map((a) => [a.deviceId, a.previous, a.seq, a.released.map((e) => e.seq)])).toEqual([
        ['door1', 0, 5, [1, 2, 3, 4, 5]],
        ['annex', 0, 2, [1, 2]],
      ]);
      expect(acks[1]!.released[0]).toMatchObject({
        deviceId: 'annex',
        incarnation: INC_A,
        data: { seq: 1, name: 'Zoë' },
      });
      expect(await lastAck(db!, 'door1', INC_A)).toBe(5);
      expect(await lastAck(db!, 'annex', INC_A)).toBe(2);
    });

    it('acknowledges up to the first hole, following prev_seq over events the lock skipped', async () => {
      const [db] = await withDevice();
      await noteIncarnation(db!, 'door1', INC_A);
      for (const seq of [1, 2, 4]) await storeEvent(db!, event(seq));
      expect(await advanceAck(db!, 'door1')).toMatchObject({ previous: 0, seq: 2 });
      await storeEvent(db!, event(3));
      expect(await advanceAck(db!, 'door1')).toMatchObject({ previous: 2, seq: 4 });
      // The lock dropped 5 and 6 (outbox overflow): 7 says its predecessor was 4.
      await storeEvent(db!, event(7, { prevSeq: 4 }));
      expect(await advanceAck(db!, 'door1')).toMatchObject({ previous: 4, seq: 7 });
      expect(await lastAck(db!, 'door1')).toBe(7);
    });

    it('computes the ack from the shared rows when consecutive events land on different workers', async () => {
      const workers = await withDevice(3);
      await noteIncarnation(workers[0]!, 'door1', INC_A);
      const seen: number[][] = workers.map(() => []);
      // Each event goes to one worker, out of order, each worker storing and acknowledging at once.
      const order = Array.from({ length: 120 }, (_, i) => i + 1).sort(
        (x, y) => ((x * 37) % 120) - ((y * 37) % 120),
      );
      await Promise.all(
        workers.map(async (db, w) => {
          for (const seq of order.filter((_, i) => i % workers.length === w)) {
            await db.transaction(async (tx) => {
              await storeEvent(tx, event(seq));
              seen[w]!.push((await advanceAck(tx, 'door1')).seq);
            });
          }
        }),
      );
      expect(await advanceAck(workers[1]!, 'door1')).toMatchObject({ seq: 120 });
      for (const acks of seen) expect(acks).toEqual([...acks].sort((x, y) => x - y));
      expect((await listEvents(workers[2]!, 'door1', 0, 1000)).map((e) => e.seq)).toEqual(
        Array.from({ length: 120 }, (_, i) => i + 1),
      );
    });

    it('continues after the lock’s own ack (a restored gateway) and never moves an ack back', async () => {
      const [db] = await withDevice();
      await noteIncarnation(db!, 'door1', INC_A);
      expect(await catchUpAck(db!, 'door1', INC_A, 40)).toEqual({ previous: 0, seq: 40 });
      expect(await catchUpAck(db!, 'door1', INC_A, 12)).toBeUndefined();
      await storeEvent(db!, event(41));
      expect(await advanceAck(db!, 'door1')).toMatchObject({ previous: 40, seq: 41 });
    });

    it('never gives two concurrent commands the same counter, across workers; a lock’s higher counter moves it up', async () => {
      const workers = await withDevice(2);
      const taken = await Promise.all(
        Array.from({ length: 60 }, (_, i) => takeCounter(workers[i % 2]!, 'door1')),
      );
      expect(new Set(taken).size).toBe(60);
      expect([...taken].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      // Beyond 2^31: BIGINT in PostgreSQL, back as a JS number.
      expect(await raiseCounter(workers[0]!, 'door1', 5_000_000_000)).toBe(true);
      expect(await raiseCounter(workers[1]!, 'door1', 7)).toBe(false);
      expect(await takeCounter(workers[1]!, 'door1')).toBe(5_000_000_001);
    });

    it('never gives two concurrent pushes the same desired revision, and each is above what the lock reported', async () => {
      const workers = await withDevice(2);
      const revisions = await Promise.all(
        Array.from({ length: 60 }, (_, i) => takeRevision(workers[i % 2]!, 'door1', i === 0 ? 1000 : 0)),
      );
      expect(new Set(revisions).size).toBe(60);
      expect(Math.min(...revisions)).toBeGreaterThan(0);
      const after = await takeRevision(workers[0]!, 'door1', 0);
      expect(after).toBeGreaterThan(Math.max(...revisions));
      expect(after).toBeGreaterThan(1000);
    });

    it('applies many locks’ states in one commit exactly as one by one: incarnations, counters, catch-up acks, reported codes', async () => {
      const now = Date.parse('2026-11-29T12:00:00.000Z');
      /** door1 follows INC_A (ack 5), door2 has a row and an ack from before incarnations, door3 follows INC_A. */
      async function prepared(): Promise<GatewayDb> {
        const db = await open(await newTarget());
        for (const id of ['door1', 'door2', 'door3']) await addDevice(db, id, SECRET);
        await noteIncarnation(db, 'door1', INC_A, now);
        for (let seq = 1; seq <= 5; seq++) await storeEvent(db, event(seq));
        await advanceAck(db, 'door1');
        await storeEvent(db, { ...event(1), deviceId: 'door2', incarnation: '' });
        await advanceAck(db, 'door2', '');
        await noteIncarnation(db, 'door3', INC_A, now);
        return db;
      }
      const ids = ['door1', 'door2', 'door3'];
      const notes = [
        { deviceId: 'door1', incarnation: INC_A },
        { deviceId: 'door2', incarnation: INC_A }, // first seen: adopts the row and ack from before
        { deviceId: 'door3', incarnation: INC_B }, // a reset
        { deviceId: 'door3', incarnation: INC_A }, // replaced: old
        { deviceId: 'door2', incarnation: INC_A },
        { deviceId: 'door3', incarnation: INC_B },
      ];
      const raises = [
        { deviceId: 'door1', lastCounter: 10 },
        { deviceId: 'door1', lastCounter: 8 },
        { deviceId: 'door2', lastCounter: 3 },
        { deviceId: 'door1', lastCounter: 12 },
        { deviceId: 'door3', lastCounter: 0 },
      ];
      const catchUps = [
        { deviceId: 'door1', incarnation: INC_A, lockAcked: 3 },
        { deviceId: 'door1', incarnation: INC_A, lockAcked: 9 },
        { deviceId: 'door2', incarnation: INC_A, lockAcked: 4 },
        { deviceId: 'door1', incarnation: INC_A, lockAcked: 20 },
      ];
      const reports = [
        { deviceId: 'door1', revision: 3, body: { revision: 3 } },
        { deviceId: 'door2', revision: 2, body: { revision: 2 } },
        { deviceId: 'door1', revision: 2, body: { revision: 2 } },
      ];
      const contents = (db: GatewayDb) =>
        Promise.all([
          db.all('SELECT device_id, next_counter, incarnation, note FROM devices ORDER BY device_id'),
          db.all(
            'SELECT device_id, incarnation, seen_order FROM incarnations ORDER BY device_id, seen_order',
          ),
          db.all('SELECT device_id, incarnation, seq FROM acks ORDER BY device_id, incarnation'),
          db.all('SELECT device_id, incarnation, seq FROM events ORDER BY device_id, incarnation, seq'),
          db.all('SELECT device_id, revision, body FROM reported ORDER BY device_id'),
        ]);

      const batched = await prepared();
      const together = await batched.transaction(async (tx) => {
        await lockDevices(tx, ids);
        return {
          changes: await noteIncarnations(tx, notes, now),
          raised: await raiseCounters(tx, raises),
          skipped: await catchUpAcks(tx, catchUps),
          reported: await storeReportedMany(tx, reports, now),
        };
      });
      const single = await prepared();
      const oneByOne = {
        changes: [] as unknown[],
        raised: [] as boolean[],
        skipped: [] as unknown[],
        reported: undefined,
      };
      for (const n of notes)
        oneByOne.changes.push(await noteIncarnation(single, n.deviceId, n.incarnation, now));
      for (const r of raises) oneByOne.raised.push(await raiseCounter(single, r.deviceId, r.lastCounter));
      for (const c of catchUps)
        oneByOne.skipped.push(await catchUpAck(single, c.deviceId, c.incarnation, c.lockAcked));
      for (const r of reports) await storeReported(single, r.deviceId, r.revision, r.body, now);

      expect(together).toEqual(oneByOne);
      expect(together.changes.map((c) => c.kind)).toEqual([
        'current',
        'first',
        'reset',
        'old',
        'current',
        'current',
      ]);
      expect(together.raised).toEqual([true, false, true, true, false]);
      expect(together.skipped).toEqual([
        undefined,
        { previous: 5, seq: 9 },
        { previous: 1, seq: 4 },
        { previous: 9, seq: 20 },
      ]);
      const [devices, incarnations, acks, events, reported] = await contents(batched);
      expect([devices, incarnations, acks, events, reported]).toEqual(await contents(single));
      expect(devices.map((d) => [d.next_counter, d.incarnation])).toEqual([
        [13, INC_A],
        [4, INC_A],
        [1, INC_B],
      ]);
      expect(incarnations).toHaveLength(4);
      expect(acks).toEqual([
        { device_id: 'door1', incarnation: INC_A, seq: 20 },
        { device_id: 'door2', incarnation: INC_A, seq: 4 },
      ]);
      expect(events.filter((e) => e.device_id === 'door2')).toEqual([
        { device_id: 'door2', incarnation: INC_A, seq: 1 },
      ]);
      expect(reported.map((r) => r.revision)).toEqual([2, 2]);
    });

    it('keeps the latest reported codes of each device', async () => {
      const [db] = await withDevice();
      await storeReported(db!, 'door1', 3, { revision: 3, codes: [] });
      await storeReported(db!, 'door1', 4, { revision: 4, codes: [{ ref: 'x' }] });
      const rows = await db!.all<{ revision: number; body: string }>(
        'SELECT revision, body FROM reported WHERE device_id = ?',
        ['door1'],
      );
      expect(rows).toEqual([{ revision: 4, body: JSON.stringify({ revision: 4, codes: [{ ref: 'x' }] }) }]);
    });

    it('keeps a statement made outside a transaction out of it, when the transaction rolls back', async () => {
      const [db] = await withDevice();
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const failing = db!.transaction(async (tx) => {
        await takeCounter(tx, 'door1');
        entered();
        await held;
        throw new Error('rolled back');
      });
      await inside;
      const outside = addDevice(db!, 'annex', SECRET);
      release();
      await expect(failing).rejects.toThrow('rolled back');
      await outside;
      expect(await listDevices(db!)).toEqual(['annex', 'door1']);
      expect(await takeCounter(db!, 'door1')).toBe(1);
    });

    it('rolls a failed transaction back entirely', async () => {
      const [db] = await withDevice();
      await noteIncarnation(db!, 'door1', INC_A);
      await expect(
        db!.transaction(async (tx) => {
          await storeEvent(tx, event(1));
          await takeCounter(tx, 'door1');
          throw new Error('worker died mid-commit');
        }),
      ).rejects.toThrow('worker died mid-commit');
      expect(await listEvents(db!, 'door1')).toEqual([]);
      expect(await takeCounter(db!, 'door1')).toBe(1);
    });
  });
}
