import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { GatewayClient } from '../../gateway/client.ts';
import { CONSOLE_NOT_BUILT, registerConsole } from '../../gateway/http/console.ts';
import { buildServer } from '../../gateway/http/server.ts';
import { createApiKey, revokeApiKey } from '../../gateway/seam/api-keys.ts';
import { issueClientSession } from '../../gateway/seam/client-sessions.ts';
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

/** The server in-process (Fastify inject) on a real broker and SQLite file. */
async function inProcess() {
  const store = await openSeamStore(join(testDir(), 'gateway.db'));
  await addDevice(store.sql, 'door1', new Uint8Array(32).fill(7));
  const client = await GatewayClient.connect({ url: broker.url });
  const gateway = new SeamGateway(store, client, {});
  await gateway.start();
  const app = buildServer(gateway);
  onTestFinished(async () => {
    await app.close();
    await gateway.close();
    await store.sql.close();
  });
  const apiKey = (await createApiKey(store.sql, 'integrator')).key;
  const publishable = await createApiKey(store.sql, 'console', Date.now(), 'publishable_key');
  /** A POST as the Seam SDK sends it; every answer is checked against @seamapi/types. */
  const post = async (url: string, body: object, headers: Record<string, string>) => {
    const response = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(body),
    });
    const json = response.json() as Record<string, unknown>;
    assertSeamResponse(url, response.statusCode, json);
    return { status: response.statusCode, body: json };
  };
  const asSession = (token: string) => ({ authorization: `Bearer ${token}`, 'client-session-token': token });
  return { app, store, post, apiKey, publishable, asSession };
}

type Session = { client_session_id: string; token: string; user_identifier_key: string | null };

describe('client sessions: how the console signs in', () => {
  it('turns a publishable key and a user identifier into a client session token that opens the API', async () => {
    const { store, post, publishable, asSession } = await inProcess();
    const pk = { 'seam-publishable-key': publishable.key };
    expect(publishable.key).toMatch(/^seam_pk_[0-9a-f]{8}_/);
    expect(publishable.info.apiKeyId).toMatch(/^pk_[0-9a-f]{8}$/);

    const first = await post('/client_sessions/get_or_create', { user_identifier_key: 'front desk' }, pk);
    expect(first.status).toBe(200);
    const session = first.body.client_session as Session & {
      device_count: number;
      connected_account_ids: string[];
    };
    expect(session).toMatchObject({
      user_identifier_key: 'front desk',
      device_count: 1,
      connected_account_ids: [store.workspace.connectedAccountId],
    });
    expect(session.token).toMatch(/^seam_cst_/);
    // Only a hash is stored: the database never holds the token.
    const rows = await store.sql.all<Record<string, unknown>>('SELECT * FROM seam_client_sessions');
    expect(JSON.stringify(rows)).not.toContain(session.token);

    // The same identifier again: the same session, a new token; both work.
    const again = (await post('/client_sessions/get_or_create', { user_identifier_key: 'front desk' }, pk))
      .body.client_session as Session;
    expect(again.client_session_id).toBe(session.client_session_id);
    expect(again.token).not.toBe(session.token);
    for (const token of [session.token, again.token]) {
      const listed = await post('/devices/list', {}, asSession(token));
      expect(listed.status).toBe(200);
      const [device] = listed.body.devices as Array<{
        properties: { image_url: string };
        connected_account_id: string;
      }>;
      expect(device!.properties.image_url).toMatch(/^data:image\/svg\+xml;base64,/);
      // The components show the lock's connected account.
      const account = await post(
        '/connected_accounts/get',
        { connected_account_id: device!.connected_account_id },
        asSession(token),
      );
      expect(account).toMatchObject({
        status: 200,
        body: { connected_account: { display_name: 'Tumbler gateway' } },
      });
    }
    expect(
      (await post('/client_sessions/get', {}, asSession(session.token))).body.client_session,
    ).toMatchObject({ client_session_id: session.client_session_id, token: session.token });
    expect(
      await post(
        '/connected_accounts/get',
        { connected_account_id: crypto.randomUUID() },
        asSession(session.token),
      ),
    ).toMatchObject({ status: 404, body: { error: { type: 'connected_account_not_found' } } });
  });

  it('refuses what each credential may not do, and ends sessions with their key', async () => {
    const { app, store, post, publishable, apiKey, asSession } = await inProcess();
    const pk = { 'seam-publishable-key': publishable.key };
    const bearer = { authorization: `Bearer ${apiKey}` };

    // A publishable key only makes sessions; a wrong one is a 401; inputs are checked.
    expect(await post('/devices/list', {}, pk)).toMatchObject({
      status: 403,
      body: { error: { type: 'forbidden' } },
    });
    expect(
      await post(
        '/client_sessions/get_or_create',
        { user_identifier_key: 'x' },
        {
          'seam-publishable-key': `seam_pk_00000000_${'A'.repeat(43)}`,
        },
      ),
    ).toMatchObject({ status: 401, body: { error: { type: 'unauthorized' } } });
    // An API key is not a publishable key, nor the other way round.
    expect(
      await post(
        '/client_sessions/get_or_create',
        { user_identifier_key: 'x' },
        { 'seam-publishable-key': apiKey },
      ),
    ).toMatchObject({ status: 401 });
    expect(await post('/devices/list', {}, { authorization: `Bearer ${publishable.key}` })).toMatchObject({
      status: 401,
    });
    const missing = await post('/client_sessions/get_or_create', {}, pk);
    expect(missing).toMatchObject({ status: 400, body: { error: { type: 'invalid_input' } } });
    expect(JSON.stringify(missing.body)).toContain('user_identifier_key');
    const unsupported = await post(
      '/client_sessions/get_or_create',
      { user_identifier_key: 'x', connected_account_ids: [] },
      pk,
    );
    expect(unsupported).toMatchObject({ status: 400 });
    expect(JSON.stringify(unsupported.body)).toContain('connected_account_ids');
    const past = await post(
      '/client_sessions/create',
      { user_identifier_key: 'x', expires_at: '2020-01-01T00:00:00Z' },
      pk,
    );
    expect(past).toMatchObject({
      status: 400,
      body: { error: { message: 'expires_at: must be in the future' } },
    });
    expect(await store.sql.all('SELECT * FROM seam_client_sessions')).toEqual([]);

    // An API key makes sessions too (the console's other sign-in) and cannot `get` one.
    const made = await post('/client_sessions/create', { user_identifier_key: 'console' }, bearer);
    expect(made.status).toBe(200);
    const token = (made.body.client_session as Session).token;
    expect((await post('/client_sessions/get', {}, bearer)).status).toBe(400);

    // A session cannot reach what Seam keeps for API keys, nor make sessions.
    for (const path of ['/webhooks/list', '/action_attempts/list', '/client_sessions/create'])
      expect(await post(path, {}, asSession(token))).toMatchObject({ status: 403 });
    // The router percent-decodes paths: an encoded name reaches the same route and the same refusal.
    for (const path of ['/%77ebhooks/list', '/action_attempts/%6cist']) {
      const response = await app.inject({
        method: 'POST',
        url: path,
        headers: asSession(token),
        payload: {},
      });
      expect(response.statusCode).toBe(403);
    }
    expect(await post('/devices/list', {}, asSession(`seam_cst_${'C'.repeat(43)}`))).toMatchObject({
      status: 401,
    });

    // An expired token, and the tokens of a revoked key, are refused.
    const expired = await issueClientSession(store.sql, {
      issuerKeyId: publishable.info.apiKeyId,
      userIdentifierKey: 'late',
      expiresAt: Date.now() - 1,
      reuse: false,
    });
    expect(await post('/devices/list', {}, asSession(expired.token))).toMatchObject({ status: 401 });
    const live = (await post('/client_sessions/get_or_create', { user_identifier_key: 'y' }, pk)).body
      .client_session as Session;
    expect((await post('/devices/list', {}, asSession(live.token))).status).toBe(200);
    await revokeApiKey(store.sql, publishable.info.apiKeyId);
    expect(await post('/devices/list', {}, asSession(live.token))).toMatchObject({ status: 401 });
    expect(await post('/client_sessions/get_or_create', { user_identifier_key: 'y' }, pk)).toMatchObject({
      status: 401,
    });
  });
});

describe('the console files', () => {
  it('are served without a key, with a policy that keeps the page on the gateway; unbuilt, /console says how to build it', async () => {
    const dir = testDir();
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    const built = Fastify();
    registerConsole(built, new Map([['index.html', join(dir, 'index.html')]]));
    const page = await built.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect((await built.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    expect((await built.inject({ method: 'GET', url: '/console/../gateway.db' })).statusCode).toBe(404);
    expect((await built.inject({ method: 'GET', url: '/console/assets/none.js' })).statusCode).toBe(404);
    await built.close();

    const unbuilt = Fastify();
    registerConsole(unbuilt, null);
    const refused = await unbuilt.inject({ method: 'GET', url: '/console/' });
    expect(refused.statusCode).toBe(503);
    expect(refused.body).toBe(`${CONSOLE_NOT_BUILT}\n`);
    await unbuilt.close();

    // In the gateway: no key needed for /console, still needed for the API.
    const { app } = await inProcess();
    expect((await app.inject({ method: 'GET', url: '/console/' })).statusCode).not.toBe(401);
    expect((await app.inject({ method: 'POST', url: '/devices/list' })).statusCode).toBe(401);
  });
});
