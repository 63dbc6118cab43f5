import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catchUpLockEvents, listSeamEvents, recordLockEvent } from '../../gateway/seam/events.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { addDevice, advanceAck, noteIncarnation, type StoredEvent, storeEvent } from '../../gateway/store.ts';
import { testDir } from './world.ts';

const INCARNATION = 'a'.repeat(32);
const RESET = 'b'.repeat(32);

const event = (seq: number, incarnation: string, keys: string): StoredEvent => ({
  deviceId: 'door1',
  incarnation,
  seq,
  prevSeq: seq - 1,
  bootId: '0123456789abcdef',
  at: new Date(Date.UTC(2026, 10, 29, 12, 0, seq)).toISOString(),
  type: 'decision',
  data: { outcome: keys === 'ok' ? 'granted' : 'denied', code_ref: null },
  hash: null,
  prevHash: null,
  chainBreak: false,
});

/** What the gateway service commits for events it holds: the events and the ack they allow. */
async function serviceCommits(dbPath: string, events: StoredEvent[]) {
  const store = await openSeamStore(dbPath);
  for (const e of events) {
    await noteIncarnation(store.sql, e.deviceId, e.incarnation);
    await storeEvent(store.sql, e);
    await advanceAck(store.sql, e.deviceId, e.incarnation);
  }
  await store.sql.close();
}

const seamEvents = async (dbPath: string) => {
  const store = await openSeamStore(dbPath);
  const listed = (await listSeamEvents(store, { limit: 100 })).map((e) => [e.event_type, e.occurred_at]);
  await store.sql.close();
  return listed;
};

describe('lock events committed before the gateway died become Seam events on the next start', () => {
  it('turns each stored, acknowledged lock event into its Seam event once, per incarnation', async () => {
    const dbPath = join(testDir(), 'gateway.db');
    const setup = await openSeamStore(dbPath);
    await addDevice(setup.sql, 'door1', randomBytes(32));
    await setup.sql.close();

    // Seq 1 was handed over and recorded; seq 2 and 3 were committed and acknowledged,
    // then the process died before it recorded their Seam events.
    await serviceCommits(dbPath, [event(1, INCARNATION, 'ok')]);
    const live = await openSeamStore(dbPath);
    await recordLockEvent(live, event(1, INCARNATION, 'ok'));
    await live.sql.close();
    await serviceCommits(dbPath, [event(2, INCARNATION, 'no'), event(3, INCARNATION, 'ok')]);
    expect(await seamEvents(dbPath)).toHaveLength(1);

    // Start: the two missing Seam events, in order, and nothing twice.
    const started = await openSeamStore(dbPath);
    expect((await catchUpLockEvents(started)).map((e) => e.seq)).toEqual([2, 3]);
    expect(await catchUpLockEvents(started)).toEqual([]);
    await started.sql.close();
    expect(await seamEvents(dbPath)).toEqual([
      ['lock.unlocked', '2026-11-29T12:00:03.000Z'],
      ['lock.access_denied', '2026-11-29T12:00:02.000Z'],
      ['lock.unlocked', '2026-11-29T12:00:01.000Z'],
    ]);

    // A reset lock (new incarnation, seqs from 1 again): its events are new, not duplicates.
    await serviceCommits(dbPath, [event(1, RESET, 'no')]);
    const again = await openSeamStore(dbPath);
    expect((await catchUpLockEvents(again)).map((e) => [e.incarnation, e.seq])).toEqual([[RESET, 1]]);
    // A replayed hand-over of an event already caught up adds nothing.
    await recordLockEvent(again, event(1, RESET, 'no'));
    await again.sql.close();
    expect(await seamEvents(dbPath)).toHaveLength(4);
  });
});
