import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLockfw } from '../helpers/lockfw-process.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { startWorld } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message: string };
    return { status: e.statusCode, type: e.code, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('create_multiple, generate_code, simulated keypad entry and codes that end', () => {
  it('shares one code over two locks, generates free codes, types a code on the sim, removes a code at its end', async () => {
    const world = await startWorld(broker);
    // A second lock registered with the gateway, never started: its codes wait for it.
    expect((await world.lockctl('provision', '--device-id', 'door2', '--out', world.dir)).status).toBe(0);
    const { seam } = world;
    const devices = await seam.devices.list();
    const door1 = devices.find((d) => d.display_name === 'door1')!;
    const door2 = devices.find((d) => d.display_name === 'door2')!;
    await waitUntil(
      async () => (await seam.devices.get({ device_id: door1.device_id })).properties.online === true,
      15_000,
      'door1 to show online',
    );

    // generate_code: a free PIN, nothing stored.
    const generated = await seam.accessCodes.generateCode({ device_id: door1.device_id });
    expect(generated.code).toMatch(/^\d{6}$/);
    expect(await seam.accessCodes.list({ device_id: door1.device_id })).toEqual([]);

    // create_multiple: the same code on both, one common_code_key.
    const shared = await seam.accessCodes.createMultiple({
      device_ids: [door1.device_id, door2.device_id],
      name: 'cleaner',
      code: '5813',
    });
    expect(shared.map((c) => [c.device_id, c.code, c.status])).toEqual([
      [door1.device_id, '5813', 'setting'],
      [door2.device_id, '5813', 'setting'],
    ]);
    expect(shared[0]!.common_code_key).toMatch(/^[0-9a-f-]{36}$/);
    expect(shared[1]!.common_code_key).toBe(shared[0]!.common_code_key);
    await waitUntil(
      async () =>
        (await seam.accessCodes.get({ access_code_id: shared[0]!.access_code_id })).status === 'set',
      15_000,
      'the shared code to be set on door1',
    );
    expect((await seam.accessCodes.get({ access_code_id: shared[1]!.access_code_id })).status).toBe(
      'setting',
    );

    // A code taken on one lock: refused as a whole by default, changing nothing...
    await seam.accessCodes.create({ device_id: door2.device_id, name: 'owner', code: '4242' });
    const before = (await seam.accessCodes.list({ device_id: door1.device_id })).length;
    expect(
      await refusal(
        seam.accessCodes.createMultiple({ device_ids: [door1.device_id, door2.device_id], code: '4242' }),
      ),
    ).toMatchObject({
      status: 400,
      type: 'duplicate_access_code',
      message: expect.stringMatching(/^code: /),
    });
    expect((await seam.accessCodes.list({ device_id: door1.device_id })).length).toBe(before);
    // An unknown device or a bad field: 404 / 400, nothing created.
    expect(
      await refusal(
        seam.accessCodes.createMultiple({
          device_ids: [door1.device_id, '00000000-0000-4000-8000-000000000000'],
          code: '8080',
        }),
      ),
    ).toMatchObject({ status: 404, type: 'device_not_found' });
    expect(
      await refusal(seam.accessCodes.createMultiple({ device_ids: [door1.device_id], code: '12' })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^code: /) });
    expect(
      await refusal(seam.accessCodes.createMultiple({ device_ids: [] as string[], code: '8080' })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^device_ids: /) });
    expect((await seam.accessCodes.list({ device_id: door1.device_id })).length).toBe(before);
    // ...or that lock gets a random code of its own.
    const mixed = await seam.accessCodes.createMultiple({
      device_ids: [door1.device_id, door2.device_id],
      code: '4242',
      behavior_when_code_cannot_be_shared: 'create_random_code',
    });
    expect(mixed[0]!.code).toBe('4242');
    expect(mixed[1]!.code).toMatch(/^\d{6}$/);
    expect(mixed[1]!.code).not.toBe('4242');

    // The simulated keypad, through a signed command only a --hal sim lock runs.
    const typed = await seam.locks.simulate.keypadCodeEntry(
      { device_id: door1.device_id, code: '5813' },
      { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } },
    );
    expect(typed).toMatchObject({ action_type: 'SIMULATE_KEYPAD_CODE_ENTRY', status: 'success' });
    await waitUntil(
      async () =>
        (await seam.events.list({ access_code_id: shared[0]!.access_code_id, event_type: 'lock.unlocked' }))
          .length === 1,
      15_000,
      'the simulated entry to open the lock',
    );
    expect(
      await refusal(seam.locks.simulate.keypadCodeEntry({ device_id: door1.device_id, code: '12ab' })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^code: /) });

    // A time-bound code leaves the lock at its ends_at.
    const brief = await seam.accessCodes.create({
      device_id: door1.device_id,
      name: 'brief',
      code: '97531',
      starts_at: iso(Date.now() - HOUR),
      ends_at: iso(Date.now() + 4000),
    });
    await waitUntil(
      async () => {
        try {
          await seam.accessCodes.get({ access_code_id: brief.access_code_id });
          return false;
        } catch (error) {
          return (error as { code?: string }).code === 'access_code_not_found';
        }
      },
      20_000,
      'the ended code to be removed',
    );
    const atLock = await runLockfw(['codes', 'list', '--data', world.dataDir, '--json']);
    expect((JSON.parse(atLock.stdout) as Array<{ name: string }>).map((c) => c.name)).not.toContain('brief');
    expect(
      (await seam.events.list({ access_code_id: brief.access_code_id })).map((e) => e.event_type),
    ).toEqual(['access_code.removed_from_device', 'access_code.set_on_device', 'access_code.created']);
  }, 120_000);
});
