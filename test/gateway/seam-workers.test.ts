import { SeamWebhook } from '@seamapi/webhook';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { checkedSeamHttp } from './seam-schema.ts';
import { headersOf, receiver } from './webhook-receiver.ts';
import { startWorld } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const PRESSES = 4;

describe('two gateway workers on one PostgreSQL database act as one Seam API', () => {
  it('reads through one worker what the other wrote; records and delivers each unlock once', async () => {
    const world = await startWorld(broker, { db: 'postgres', workers: 2, deviceId: 'door-workers' });
    const one = world.seam;
    /** The workers' database, read directly. */
    const query = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
      const client = new pg.Client({ connectionString: world.dbPath });
      await client.connect();
      try {
        return (await client.query<R>(text, params)).rows;
      } finally {
        await client.end();
      }
    };
    const { seam: two } = checkedSeamHttp(world.apiKey, world.workers[1]!.endpoint);
    expect(world.workers[1]!.endpoint).not.toBe(world.endpoint);

    const device = (await two.devices.list())[0]!;
    expect((await one.devices.list()).map((d) => d.device_id)).toEqual([device.device_id]);
    const hook = await receiver(() => 200);
    const webhook = await two.webhooks.create({ url: hook.url, event_types: ['lock.unlocked'] });
    expect(await one.webhooks.list()).toEqual([webhook]);

    // Created through the first worker; read, listed and seen set through the second.
    const code = await one.accessCodes.create({ device_id: device.device_id, name: 'guest', code: '864213' });
    await waitUntil(
      async () => (await two.accessCodes.get({ access_code_id: code.access_code_id })).status === 'set',
      20_000,
      'the code to be set, read through the second worker',
    );
    expect(
      (await two.accessCodes.list({ device_id: device.device_id })).map((c) => c.access_code_id),
    ).toEqual([code.access_code_id]);

    // Both workers at once: the same PIN is taken by one create only; codes made side by
    // side get revisions of their own, and all are set.
    const same = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? one : two).accessCodes.create({ device_id: device.device_id, code: '555111' }),
      ),
    );
    expect(same.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(same.find((r) => r.status === 'rejected')?.reason).toMatchObject({
      statusCode: 400,
      code: 'duplicate_access_code',
    });
    const sideBySide = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? one : two).accessCodes.create({ device_id: device.device_id, code: `70${i}123` }),
      ),
    );
    await waitUntil(
      async () =>
        (await one.accessCodes.list({ device_id: device.device_id })).every((c) => c.status === 'set'),
      20_000,
      'every code set',
    );
    const revisions = await query<{ declared_revision: string }>(
      'SELECT declared_revision FROM seam_access_codes WHERE access_code_id = ANY($1)',
      [sideBySide.map((c) => c.access_code_id)],
    );
    expect(new Set(revisions.map((r) => r.declared_revision)).size).toBe(sideBySide.length);

    // Each entry's events go to one worker or the other (shared subscription); each
    // becomes one lock.unlocked, listed alike by both, delivered once.
    for (let i = 0; i < PRESSES; i++) await world.control.request('press', { keys: '864213#' });
    const unlocks = async (seam: typeof one) =>
      seam.events.list({ device_id: device.device_id, event_type: 'lock.unlocked' });
    await waitUntil(
      async () => (await unlocks(one)).length >= PRESSES,
      20_000,
      'every unlock at the gateway',
    );
    await waitUntil(() => hook.deliveries.length >= PRESSES, 20_000, 'every unlock at the webhook');
    // A remote unlock after them: its delivery comes after theirs (oldest first), so any
    // second delivery of theirs would have come by then too.
    await two.locks.unlockDoor(
      { device_id: device.device_id },
      { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } },
    );
    await waitUntil(
      () => hook.deliveries.some((d) => d.body.includes('"method":"seamapi"')),
      20_000,
      'the remote unlock at the webhook',
    );
    const listed = await unlocks(one);
    expect(await unlocks(two)).toEqual(listed);
    expect(listed.filter((e) => (e as { method?: string }).method === 'keycode')).toEqual(
      Array.from({ length: PRESSES }, () =>
        expect.objectContaining({ access_code_id: code.access_code_id, method: 'keycode' }),
      ),
    );
    expect(listed).toHaveLength(PRESSES + 1);

    const verifier = new SeamWebhook(webhook.secret!);
    const delivered = hook.deliveries.map(
      (d) => verifier.verify(d.body, headersOf(d)) as { event_id: string },
    );
    expect(delivered.map((e) => e.event_id).sort()).toEqual(listed.map((e) => e.event_id).sort());
    const ids = hook.deliveries.map((d) => d.headers['svix-id']);
    expect(new Set(ids).size).toBe(ids.length);

    // In the database: one Seam event per lock event, one send per delivery.
    expect(
      await query('SELECT attempts, delivered_at IS NOT NULL AS delivered FROM seam_webhook_deliveries'),
    ).toEqual(Array.from({ length: PRESSES + 1 }, () => ({ attempts: 1, delivered: true })));
    expect(
      await query(
        "SELECT count(*) AS n, count(DISTINCT source) AS distinct_sources FROM seam_events WHERE event_type = 'lock.unlocked'",
      ),
    ).toEqual([{ n: String(PRESSES + 1), distinct_sources: String(PRESSES + 1) }]);
  }, 120_000);
});
