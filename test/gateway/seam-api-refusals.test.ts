import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPostgresTarget, openSql } from '../../gateway/db/sql.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { startWorld, type World } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const FIELDS = [
  'device_id',
  'code',
  'name',
  'starts_at',
  'ends_at',
  'is_one_time_use',
  'use_backup_access_code_pool',
  'access_code_id',
  'action_attempt_id',
  'event_type',
  'preferred_code_length',
];

/** The Seam error a call was answered with: HTTP status, type, and the fields it names. */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    const e = error as {
      statusCode?: number;
      code?: string;
      message: string;
      getValidationErrorMessages?: (field: string) => string[];
    };
    return {
      status: e.statusCode,
      type: e.code,
      message: e.message,
      // The fields the client's own accessor reads from the error's validation_errors.
      fields: FIELDS.filter((field) => (e.getValidationErrorMessages?.(field) ?? []).length > 0),
    };
  }
  throw new Error('expected the call to be refused');
}

/** What a refused request must leave untouched: codes, attempts, events, the desired revision. */
async function snapshot(world: World, seamDeviceId: string) {
  const db = await openSql(world.dbPath);
  try {
    return {
      codes: await world.seam.accessCodes.list({ device_id: seamDeviceId }),
      attempts: (await world.seam.actionAttempts.list({})).map((a) => a.action_attempt_id),
      revision: await db.get('SELECT desired_revision FROM devices'),
      keys: await db.all('SELECT api_key_id, revoked_at FROM seam_api_keys ORDER BY api_key_id'),
    };
  } finally {
    await db.close();
  }
}

describe('the Seam API refuses bad requests with Seam errors and changes nothing', () => {
  it('answers no key, a wrong key and a revoked key with 401; bad inputs with 400 naming the field; unknown ids with 404', async () => {
    const world = await startWorld(broker);
    const { seam } = world;
    const device = (await seam.devices.list())[0]!;
    const good = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'cleaner',
      code: '5511',
    });
    await waitUntil(
      async () => (await seam.accessCodes.get({ access_code_id: good.access_code_id })).status === 'set',
      15_000,
      'the first code to be set',
    );
    const before = await snapshot(world, device.device_id);

    // The database holds PINs and key hashes: a SQLite file is owner-only.
    if (!isPostgresTarget(world.dbPath)) expect(statSync(world.dbPath).mode & 0o777).toBe(0o600);

    // Authentication: no key, a wrong key, a revoked key.
    const noKey = world.client(world.apiKey);
    noKey.seam.client.interceptors.request.use((config) => {
      config.headers.delete('authorization');
      return config;
    });
    expect(
      await refusal(noKey.seam.accessCodes.create({ device_id: device.device_id, code: '6622' })),
    ).toMatchObject({ status: 401, type: 'unauthorized' });
    const wrong = world.client(`seam_deadbeef_${'A'.repeat(43)}`);
    expect(await refusal(wrong.seam.devices.list())).toMatchObject({ status: 401, type: 'unauthorized' });
    expect(
      await refusal(wrong.seam.accessCodes.create({ device_id: device.device_id, code: '6622' })),
    ).toMatchObject({ status: 401 });
    const second = JSON.parse(
      (await world.lockctl('api-key', 'create', '--name', 'old', '--json')).stdout,
    ) as {
      key: string;
      api_key_id: string;
    };
    const old = world.client(second.key);
    expect(await old.seam.devices.list()).toHaveLength(1);
    expect((await world.lockctl('api-key', 'revoke', '--id', second.api_key_id)).status).toBe(0);
    expect(
      await refusal(old.seam.accessCodes.create({ device_id: device.device_id, code: '6622' })),
    ).toMatchObject({
      status: 401,
      type: 'unauthorized',
    });
    const listed = JSON.parse((await world.lockctl('api-key', 'list', '--json')).stdout) as Array<{
      api_key_id: string;
      revoked_at: string | null;
    }>;
    expect(listed.map((k) => k.revoked_at === null)).toEqual(
      listed.map((k) => k.api_key_id !== second.api_key_id),
    );
    const revokedAgain = await world.lockctl('api-key', 'revoke', '--id', second.api_key_id);
    expect(revokedAgain.status).toBe(1);
    expect(revokedAgain.stderr).toMatch(/no active API key/);

    // Inputs: each a 400 naming its field (or a 404 for an id that is well-formed but unknown).
    const create = (body: Record<string, unknown>) =>
      refusal(seam.accessCodes.create({ device_id: device.device_id, ...body } as never));
    expect(await create({ code: 1234 })).toMatchObject({
      status: 400,
      type: 'invalid_input',
      fields: ['code'],
    });
    expect(await create({ code: '12ab' })).toMatchObject({ status: 400, fields: ['code'] });
    expect(await create({ code: '123' })).toMatchObject({ status: 400, fields: ['code'] });
    expect(await create({ code: '5511' })).toMatchObject({
      status: 400,
      type: 'duplicate_access_code',
      message: expect.stringMatching(/^code: /),
    });
    expect(
      await create({ code: '7733', starts_at: 'tomorrow', ends_at: '2030-01-01T00:00:00Z' }),
    ).toMatchObject({
      status: 400,
      fields: ['starts_at'],
    });
    expect(
      await create({ code: '7733', starts_at: '2030-01-02T00:00:00Z', ends_at: '2030-01-01T00:00:00Z' }),
    ).toMatchObject({ status: 400, fields: ['ends_at'] });
    expect(await create({ code: '7733', starts_at: '2030-01-02T00:00:00Z' })).toMatchObject({
      status: 400,
      fields: ['ends_at'],
    });
    expect(await create({ code: '7733', use_backup_access_code_pool: 'yes' })).toMatchObject({
      status: 400,
      fields: ['use_backup_access_code_pool'],
    });
    expect(await create({ code: '7733', name: 'x'.repeat(65) })).toMatchObject({
      status: 400,
      fields: ['name'],
    });
    expect(await create({ code: '7733', is_one_time_use: 'yes' })).toMatchObject({
      status: 400,
      fields: ['is_one_time_use'],
    });
    expect(await refusal(seam.accessCodes.create({ device_id: 'door1', code: '7733' }))).toMatchObject({
      status: 400,
      fields: ['device_id'],
    });
    expect(await refusal(seam.accessCodes.create({ device_id: randomUUID(), code: '7733' }))).toMatchObject({
      status: 404,
      type: 'device_not_found',
    });
    expect(await refusal(seam.locks.unlockDoor({ device_id: randomUUID() }))).toMatchObject({
      status: 404,
      type: 'device_not_found',
    });
    expect(await refusal(seam.devices.get({ device_id: 42 } as never))).toMatchObject({
      status: 400,
      fields: ['device_id'],
    });
    expect(await refusal(seam.accessCodes.get({ access_code_id: randomUUID() }))).toMatchObject({
      status: 404,
      type: 'access_code_not_found',
    });
    expect(
      await refusal(seam.accessCodes.update({ access_code_id: good.access_code_id, code: '55' })),
    ).toMatchObject({ status: 400, fields: ['code'] });
    expect(await refusal(seam.accessCodes.delete({ access_code_id: randomUUID() }))).toMatchObject({
      status: 404,
    });
    expect(await refusal(seam.actionAttempts.get({ action_attempt_id: 'nope' }))).toMatchObject({
      status: 400,
      fields: ['action_attempt_id'],
    });
    expect(await refusal(seam.events.list({ event_type: 'lock.nonsense' } as never))).toMatchObject({
      status: 400,
      fields: ['event_type'],
    });

    // Refusals never echo a PIN.
    expect(JSON.stringify(world.seen.filter((r) => r.status >= 400))).not.toMatch(/5511|7733|6622/);
    expect(world.serveOutput()).not.toMatch(/5511|7733|6622/);

    const after = await snapshot(world, device.device_id);
    expect(after.codes).toEqual(before.codes);
    expect(after.attempts).toEqual(before.attempts);
    expect(after.revision).toEqual(before.revision);
    expect(after.keys).toHaveLength(before.keys.length + 1);

    // Left out, the code is made up: random, of the preferred length, set like any other.
    const generated = await seam.accessCodes.create({
      device_id: device.device_id,
      preferred_code_length: 8,
    });
    expect(generated.code).toMatch(/^\d{8}$/);
    const usual = await seam.accessCodes.create({ device_id: device.device_id, name: 'cleaner 2' });
    expect(usual.code).toMatch(/^\d{6}$/);
    await waitUntil(
      async () =>
        (await seam.accessCodes.list({ device_id: device.device_id })).every((c) => c.status === 'set'),
      15_000,
      'the generated codes to be set',
    );
    expect(await create({ code: '7733', preferred_code_length: 8 })).toMatchObject({
      status: 400,
      fields: ['preferred_code_length'],
    });
    expect(await create({ preferred_code_length: 3 })).toMatchObject({
      status: 400,
      fields: ['preferred_code_length'],
    });
  }, 120_000);
});
