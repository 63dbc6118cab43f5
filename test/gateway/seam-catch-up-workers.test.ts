import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { GatewayClient } from '../../gateway/client.ts';
import { migrate } from '../../gateway/db/migrate.ts';
import { catchUpLockEvents, recordLockEvent } from '../../gateway/seam/events.ts';
import { SeamGateway } from '../../gateway/seam/runtime.ts';
import { openSeamStore, SEAM_MIGRATIONS, type SeamStore, seamStore } from '../../gateway/seam/store.ts';
import { createWebhook } from '../../gateway/seam/webhooks.ts';
import {
  addDevice,
  advanceAck,
  noteIncarnation,
  openGatewayDb,
  type StoredEvent,
  storeEvent,
} from '../../gateway/store.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { waitUntil } from '../helpers/wait.ts';
import { receiver } from './webhook-receiver.ts';
import { testDir } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const DEVICE = 'door-gap';
const INCARNATION = 'c'.repeat(32);

const entry = (seq: number): StoredEvent => ({
  deviceId: DEVICE,
  incarnation: INCARNATION,
  seq,
  prevSeq: seq - 1,
  bootId: '0123456789abcdef',
  at: new Date(Date.UTC(2026, 10, 29, 12, 0, seq)).toISOString(),
  type: 'decision',
  data: { outcome: 'granted', code_ref: null },
  hash: null,
  prevHash: null,
  chainBreak: false,
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i));

/** What a worker's gateway service commits for events it took: the events and the ack they allow. */
async function serviceCommits(store: SeamStore, events: StoredEvent[]): Promise<void> {
  for (const event of events) {
    await noteIncarnation(store.sql, event.deviceId, event.incarnation);
    await storeEvent(store.sql, event);
  }
  await advanceAck(store.sql, DEVICE, INCARNATION);
}

async function openWorkerStore(url: string): Promise<SeamStore> {
  const store = await openSeamStore(url);
  onTestFinished(() => store.sql.close());
  return store;
}

describe('lock events of a worker killed before it translated them (PostgreSQL, several workers)', () => {
  it('get their Seam events and webhook deliveries from the periodic catch-up, once each', async () => {
    const url = await testPostgresDatabase();
    const setup = await openWorkerStore(url);
    await addDevice(setup.sql, DEVICE, randomBytes(32));
    const hook = await receiver(() => 200);
    await createWebhook(setup, hook.url, ['lock.unlocked']);
    /** The lock events that have Seam events, by seq (a Seam event's source is device/incarnation/seq). */
    const translatedSeqs = async () =>
      (await query<{ source: string }>(url, 'SELECT source FROM seam_events'))
        .map((r) => Number(r.source.replace(`${DEVICE}/${INCARNATION}/`, '')))
        .sort((a, b) => a - b);

    // A running worker whose periodic catch-up the test ticks itself.
    const ticks: Array<() => void> = [];
    const running = await openWorkerStore(url);
    const client = await GatewayClient.connect({ url: broker.url, protocolVersion: 5 });
    const gateway = new SeamGateway(running, client, {
      workerGroup: 'gap',
      catchUpEveryMs: 0,
      catchUpTimer: (tick) => {
        ticks.push(tick);
        return () => ticks.splice(0);
      },
      webhooks: { pollMs: 20, backoffMs: 50 },
    });
    await gateway.start();
    onTestFinished(() => gateway.close());
    expect(ticks).toHaveLength(1);
    /** One period: the timer fires; catchUp() joins the run it started. */
    const tick = async () => {
      ticks[0]!();
      await gateway.catchUp();
    };

    // Worker A commits events 1-5 and is killed before their Seam events; worker B
    // commits 6-10 and translates them as it hands them over.
    const workerA = await openWorkerStore(url);
    await serviceCommits(workerA, range(1, 5));
    const workerB = await openWorkerStore(url);
    await serviceCommits(workerB, range(6, 10));
    for (const event of range(6, 10)) expect(await recordLockEvent(workerB, event)).toBe(true);
    expect(await translatedSeqs()).toEqual([6, 7, 8, 9, 10]);

    // The running worker's next catch-up finds 1-5 behind B's newer events.
    await tick();
    expect(await translatedSeqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Nothing twice: another tick, and B's hand-over replayed, add nothing.
    await tick();
    expect(await recordLockEvent(workerB, entry(7))).toBe(false);
    expect(await recordLockEvent(workerA, entry(3))).toBe(false);
    expect(await query(url, 'SELECT device_id, seq FROM seam_lock_cursors')).toEqual([
      { device_id: DEVICE, seq: '10' },
    ]);

    // Every one at the webhook, once.
    await waitUntil(() => hook.deliveries.length >= 10, 20_000, 'ten deliveries');
    const delivered = hook.deliveries.map((d) => (JSON.parse(d.body) as { event_id: string }).event_id);
    const eventIds = (await query<{ event_id: string }>(url, 'SELECT event_id FROM seam_events')).map(
      (r) => r.event_id,
    );
    expect([...delivered].sort()).toEqual([...eventIds].sort());
    expect(
      await query(
        url,
        'SELECT count(*) AS n, count(DISTINCT event_id) AS events FROM seam_webhook_deliveries',
      ),
    ).toEqual([{ n: '10', events: '10' }]);

    // Three workers catching up the same untranslated events at once: each event once.
    await serviceCommits(workerA, range(11, 30));
    const raced = await Promise.all([
      catchUpLockEvents(workerA),
      catchUpLockEvents(workerB),
      catchUpLockEvents(running),
    ]);
    expect(
      raced
        .flat()
        .map((e) => e.seq)
        .sort((a, b) => a - b),
    ).toEqual(range(11, 30).map((e) => e.seq));
    expect(
      await query(url, 'SELECT count(*) AS n, count(DISTINCT source) AS sources FROM seam_events'),
    ).toEqual([{ n: '30', sources: '30' }]);
    expect(await query(url, 'SELECT seq FROM seam_lock_cursors')).toEqual([{ seq: '30' }]);
    await waitUntil(() => hook.deliveries.length >= 30, 20_000, 'thirty deliveries');
  }, 60_000);

  it('leaves events stored within the grace period to the worker handing them over, and moves the cursor only over translated ones', async () => {
    const url = await testPostgresDatabase();
    const store = await openWorkerStore(url);
    await addDevice(store.sql, DEVICE, randomBytes(32));
    const stored = Date.now();
    await serviceCommits(store, range(1, 3));
    // 3 is translated live; 1 and 2 are younger than the grace period.
    await recordLockEvent(store, entry(3));
    expect(await catchUpLockEvents(store, { storedBy: stored - 60_000 })).toEqual([]);
    expect(await query(url, 'SELECT seq FROM seam_lock_cursors')).toEqual([]);
    expect((await catchUpLockEvents(store, { storedBy: Date.now() })).map((e) => e.seq)).toEqual([1, 2]);
    expect(await query(url, 'SELECT seq FROM seam_lock_cursors')).toEqual([{ seq: '3' }]);
  });

  it('migrates a database from before the marks: events up to the old cursor count as translated', async () => {
    for (const target of [join(testDir(), 'gateway.db'), await testPostgresDatabase()]) {
      const sql = await openGatewayDb(target);
      onTestFinished(() => sql.close());
      await migrate(sql, 'seam', SEAM_MIGRATIONS.slice(0, 6));
      await addDevice(sql, DEVICE, randomBytes(32));
      for (const event of range(1, 4)) {
        await noteIncarnation(sql, DEVICE, event.incarnation);
        await storeEvent(sql, event);
      }
      await advanceAck(sql, DEVICE, INCARNATION);
      // The old high-water mark: 1 and 2 were recorded as the cursor says.
      await sql.run('INSERT INTO seam_lock_cursors (device_id, incarnation, seq) VALUES (?, ?, 2)', [
        DEVICE,
        INCARNATION,
      ]);
      const store = await seamStore(sql);
      expect(await recordLockEvent(store, entry(2))).toBe(false);
      expect((await catchUpLockEvents(store)).map((e) => e.seq)).toEqual([3, 4]);
    }
  });
});

/** The workers' database, read directly. */
async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}
