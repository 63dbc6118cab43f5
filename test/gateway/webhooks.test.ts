import { join } from 'node:path';
import { SeamWebhook } from '@seamapi/webhook';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createApiKey } from '../../gateway/seam/api-keys.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { type RunningGateway, serveGateway } from '../../gateway/serve.ts';
import { addDevice } from '../../gateway/store.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { waitUntil } from '../helpers/wait.ts';
import { checkedSeamHttp } from './seam-schema.ts';
import { type Delivery, headersOf, receiver } from './webhook-receiver.ts';
import { testDir } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

describe('webhooks: Seam events delivered signed, retried with backoff, kept across a restart', () => {
  it.each(['sqlite', 'postgres'] as const)(
    'on %s: delivers events the official verifier accepts, retries failures, survives a restart, and honours the filter',
    async (db) => {
      const dbPath = db === 'postgres' ? await testPostgresDatabase() : join(testDir(), 'gateway.db');
      const setup = await openSeamStore(dbPath);
      await addDevice(setup.sql, 'door1', new Uint8Array(32).fill(9));
      const { key } = await createApiKey(setup.sql, 'booking system');
      await setup.sql.close();
      const start = async () => {
        const running = await serveGateway({
          dbPath,
          broker: { url: broker.url },
          host: '127.0.0.1',
          port: 0,
          webhooks: { backoffMs: 100, pollMs: 20 },
        });
        onTestFinished(() => running.close().catch(() => undefined));
        return running;
      };
      let running: RunningGateway = await start();
      let answers = [500, 200];
      const hook = await receiver(() => answers.shift() ?? 200);
      let { seam } = checkedSeamHttp(key, running.url);

      const webhook = await seam.webhooks.create({ url: hook.url, event_types: ['access_code.created'] });
      expect(webhook.secret).toMatch(/^whsec_/);
      expect(await seam.webhooks.list()).toEqual([webhook]);
      expect(await seam.webhooks.get({ webhook_id: webhook.webhook_id })).toEqual(webhook);

      // The first answer is a 500: the same delivery (same svix-id) comes again after backoff.
      const device = (await seam.devices.list())[0]!;
      const code = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'guest',
        code: '482913',
      });
      await waitUntil(() => hook.deliveries.length >= 2, 10_000, 'the retried delivery');
      const [failed, retried] = hook.deliveries as [Delivery, Delivery];
      expect(retried.headers['svix-id']).toBe(failed.headers['svix-id']);
      const verifier = new SeamWebhook(webhook.secret!);
      const event = verifier.verify(retried.body, headersOf(retried)) as Record<string, unknown>;
      expect(event).toMatchObject({
        event_type: 'access_code.created',
        access_code_id: code.access_code_id,
        device_id: device.device_id,
      });
      expect((await seam.events.list({ event_type: 'access_code.created' }))[0]).toEqual(event);
      expect(retried.body).not.toContain('482913');
      // A tampered body, or one signed with another secret, is refused.
      expect(() =>
        verifier.verify(
          retried.body.replace('access_code.created', 'access_code.changed'),
          headersOf(retried),
        ),
      ).toThrow();
      expect(() =>
        new SeamWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(
          retried.body,
          headersOf(retried),
        ),
      ).toThrow();

      // Not in the filter: nothing queued.
      await seam.accessCodes.update({ access_code_id: code.access_code_id, name: 'guest (renamed)' });
      const queued = async (db: RunningGateway) =>
        (await db.gateway.store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM seam_webhook_deliveries'))!;
      expect((await queued(running)).n).toBe(1);

      // The receiver is down while the gateway restarts: the delivery waits in the database.
      answers = [503, 503, 503, 503, 503, 503, 503, 503, 503, 503];
      const second = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'second',
        code: '591736',
      });
      await waitUntil(() => hook.deliveries.length >= 3, 10_000, 'a failing delivery');
      await running.close();
      answers = [];
      const before = hook.deliveries.length;
      running = await start();
      ({ seam } = checkedSeamHttp(key, running.url));
      await waitUntil(
        () =>
          hook.deliveries
            .slice(before)
            .some((d) => d.body.includes(second.access_code_id) && verifier.verify(d.body, headersOf(d))),
        10_000,
        'the delivery after the restart',
      );

      // Update the filter, then delete the webhook: nothing more is queued for it.
      await seam.webhooks.update({ webhook_id: webhook.webhook_id, event_types: ['*'] });
      expect((await seam.webhooks.get({ webhook_id: webhook.webhook_id })).event_types).toEqual(['*']);
      await seam.webhooks.delete({ webhook_id: webhook.webhook_id });
      await seam.accessCodes.create({ device_id: device.device_id, name: 'third', code: '602847' });
      expect((await queued(running)).n).toBe(0);
      expect(await seam.webhooks.list()).toEqual([]);
    },
    60_000,
  );

  it('refuses bad webhook inputs with 400 naming the field, and unknown ids with 404', async () => {
    const dbPath = join(testDir(), 'gateway.db');
    const setup = await openSeamStore(dbPath);
    const { key } = await createApiKey(setup.sql, 'test');
    await setup.sql.close();
    const running = await serveGateway({ dbPath, broker: { url: broker.url }, host: '127.0.0.1', port: 0 });
    onTestFinished(() => running.close());
    const { seam } = checkedSeamHttp(key, running.url);
    const refused = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        return error as { statusCode: number; code: string; message: string };
      }
      throw new Error('expected a refusal');
    };
    expect(await refused(seam.webhooks.create({ url: 'ftp://example.com/x' }))).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^url: /),
    });
    expect(
      await refused(seam.webhooks.create({ url: 'http://127.0.0.1:1/x', event_types: ['lock.exploded'] })),
    ).toMatchObject({ statusCode: 400, message: expect.stringMatching(/^event_types: /) });
    expect(await refused(seam.webhooks.get({ webhook_id: 'nope' }))).toMatchObject({
      statusCode: 404,
      code: 'webhook_not_found',
    });
    expect(await seam.webhooks.list()).toEqual([]);
  });
});
