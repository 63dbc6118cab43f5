import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createLogger } from '../../firmware/log.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { buildServer } from '../../gateway/http/server.ts';
import { createApiKey } from '../../gateway/seam/api-keys.ts';
import { SeamGateway } from '../../gateway/seam/runtime.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { addDevice } from '../../gateway/store.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { assertSeamResponse } from './seam-schema.ts';
import { testDir } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

/** The server in-process (Fastify inject) on a real broker and SQLite file, for what the SDK cannot send. */
async function inProcess() {
  const store = await openSeamStore(join(testDir(), 'gateway.db'));
  await addDevice(store.sql, 'door1', new Uint8Array(32).fill(7));
  const client = await GatewayClient.connect({ url: broker.url });
  const lines: string[] = [];
  const log = createLogger('gateway', { level: 'info', sink: { write: (line) => lines.push(line) } });
  const gateway = new SeamGateway(store, client, { log });
  await gateway.start();
  const app = buildServer(gateway, log);
  onTestFinished(async () => {
    await app.close();
    await gateway.close();
    await store.sql.close();
  });
  const { key } = await createApiKey(store.sql, 'test');
  const post = async (url: string, payload?: string, headers: Record<string, string> = {}) => {
    const response = await app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${key}`, ...headers },
      ...(payload !== undefined ? { payload } : {}),
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };
  return { app, post, key, lines };
}

describe('the HTTP layer: bodies, routes and auth the official client never sends', () => {
  it('reads empty and form bodies, and answers bad JSON, unknown routes and bad auth in Seam shapes', async () => {
    const { post, lines } = await inProcess();

    const empty = await post('/devices/list');
    expect(empty.status).toBe(200);
    assertSeamResponse('/devices/list', 200, empty.body);
    const deviceId = (empty.body.devices as Array<{ device_id: string }>)[0]!.device_id;

    const json = { 'content-type': 'application/json' };
    expect(await post('/devices/list', '', json)).toMatchObject({ status: 200 });
    expect(await post('/devices/list', '{"device_ids": [', json)).toEqual({
      status: 400,
      body: {
        error: {
          type: 'invalid_input',
          message: 'body: not valid JSON',
          validation_errors: { body: { _errors: ['body: not valid JSON'] } },
        },
      },
    });
    expect(await post('/devices/list', '[1, 2]', json)).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_input' } },
    });

    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const byForm = await post('/devices/get', `device_id=${deviceId}`, form);
    expect(byForm.status).toBe(200);
    assertSeamResponse('/devices/get', 200, byForm.body);
    expect(await post('/locks/unlock_door', `device_id=${deviceId}&sync=true`, form)).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_input', validation_errors: { sync: expect.anything() } } },
    });

    expect(await post('/thermostats/list', '{}', json)).toMatchObject({
      status: 404,
      body: { error: { type: 'not_found' } },
    });
    for (const authorization of ['', 'Basic abc', 'Bearer', 'Bearer seam_nope', 'bearer x y']) {
      expect(await post('/devices/list', undefined, { authorization })).toMatchObject({
        status: 401,
        body: { error: { type: 'unauthorized' } },
      });
    }
    // Unauthenticated requests do not learn which routes exist.
    expect(await post('/thermostats/list', '{}', { ...json, authorization: '' })).toMatchObject({
      status: 401,
    });

    // Access logs: method, route, status, duration; never a body or a key.
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(10);
    expect(lines.join('')).not.toMatch(/seam_[0-9a-f]{8}_|device_id=/);
  });
});
