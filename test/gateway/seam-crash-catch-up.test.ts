import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { runLockfw } from '../helpers/lockfw-process.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { receiver } from './webhook-receiver.ts';
import { startWorld, type World } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const LOCK_EVENT_TYPES = ['lock.unlocked', 'lock.locked', 'lock.access_denied'] as const;

/** The Seam lock events the lock's own audit log calls for (docs/seam-api.md, Events), as type@instant. */
async function expectedFromLock(world: World): Promise<{ events: string[]; lastSeq: number }> {
  const listed = await runLockfw(['audit', 'list', '--data', world.dataDir, '--limit', '100000', '--json']);
  expect(listed.status, listed.stderr).toBe(0);
  const rows = listed.stdout
    .trim()
    .split('\n')
    .map(
      (line) => JSON.parse(line) as { seq: number; at: number; type: string; data: Record<string, unknown> },
    );
  const events: string[] = [];
  for (const row of rows) {
    const at = new Date(row.at).toISOString();
    if (row.type === 'decision')
      events.push(`${row.data.outcome === 'granted' ? 'lock.unlocked' : 'lock.access_denied'}@${at}`);
    else if (row.type === 'remote_unlock') events.push(`lock.unlocked@${at}`);
    else if (row.type === 'lock_state' && row.data.state === 'locked') events.push(`lock.locked@${at}`);
  }
  return { events: events.sort(), lastSeq: Math.max(...rows.map((row) => row.seq)) };
}

describe('a gateway killed while it commits a burst of lock events loses and repeats nothing', () => {
  it('SIGKILL mid-burst, restart: events/list and the webhook hold each lock event exactly once', async () => {
    const world = await startWorld(broker);
    const { seam } = world;
    const device = (await seam.devices.list())[0]!;
    await waitUntil(
      async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === true,
      15_000,
      'the lock to show online',
    );
    const hook = await receiver(() => 200);
    await seam.webhooks.create({ url: hook.url, event_types: [...LOCK_EVENT_TYPES] });
    const added = await runLockfw(
      ['codes', 'add', '--data', world.dataDir, '--name', 'staff', '--pin-stdin'],
      '2468\n',
    );
    expect(added.status, added.stderr).toBe(0);

    // The gateway dies; the lock goes on deciding entries, holding their events for it.
    await world.killGateway();
    for (let i = 0; i < 30; i++) await world.control.request('press', { keys: '2468#'.repeat(12) });
    await waitUntil(
      async () =>
        (await expectedFromLock(world)).events.filter((e) => e.startsWith('lock.unlocked')).length >= 360,
      60_000,
      'the lock to decide all 360 entries',
    );

    // Back up, it gets the backlog; killed again as soon as it has turned part of it into
    // Seam events, in the middle of committing the rest.
    const db = new Database(world.dbPath, { readonly: true, fileMustExist: true });
    onTestFinished(() => {
      db.close();
    });
    const recorded = () =>
      (
        db.prepare("SELECT COUNT(*) AS n FROM seam_events WHERE event_type LIKE 'lock.%'").get() as {
          n: number;
        }
      ).n;
    const before = recorded();
    await world.restartGateway();
    await waitUntil(() => recorded() >= before + 50, 30_000, 'the restarted gateway to record 50 events');
    await world.killGateway();
    const atKill = recorded();

    await world.restartGateway();
    await waitUntil(
      async () => ((await world.control.request('status')).status as { lock: string }).lock === 'locked',
      30_000,
      'the lock to relock',
    );
    const expected = await expectedFromLock(world);
    expect(atKill).toBeLessThan(expected.events.length);
    // Every event the lock holds acknowledged by the gateway: nothing left to resend.
    await waitUntil(
      () =>
        (
          db.prepare('SELECT MAX(seq) AS seq FROM acks WHERE device_id = ?').get(world.deviceId) as {
            seq: number | null;
          }
        ).seq === expected.lastSeq,
      60_000,
      'the gateway to acknowledge every lock event',
    );
    const listed = await seam.events.list({
      device_id: device.device_id,
      event_types: [...LOCK_EVENT_TYPES],
      limit: 10_000,
    });
    expect(listed.map((e) => `${e.event_type}@${e.occurred_at}`).sort()).toEqual(expected.events);
    expect(new Set(listed.map((e) => e.event_id)).size).toBe(listed.length);

    // The webhook: every one of them, each under one delivery id (a retry repeats it).
    const ids = new Set(listed.map((e) => e.event_id));
    const deliveredIds = () =>
      new Set(hook.deliveries.map((d) => (JSON.parse(d.body) as { event_id: string }).event_id));
    await waitUntil(() => deliveredIds().size === ids.size, 60_000, 'every event delivered');
    expect([...deliveredIds()].every((id) => ids.has(id))).toBe(true);
    const deliveryOf = new Map<string, string>();
    for (const delivery of hook.deliveries) {
      const { event_id } = JSON.parse(delivery.body) as { event_id: string };
      const svixId = String(delivery.headers['svix-id']);
      expect(deliveryOf.get(event_id) ?? svixId).toBe(svixId);
      deliveryOf.set(event_id, svixId);
    }
  }, 240_000);
});
