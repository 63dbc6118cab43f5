import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const failure = async (call: Promise<unknown>) => {
  try {
    await call;
  } catch (error) {
    const e = error as { code?: string; actionAttempt?: { status: string; action_type: string } };
    return { code: e.code, attempt: e.actionAttempt };
  }
  throw new Error('expected the action attempt to fail');
};

describe('lock and unlock action attempts end in the lock reply or a timeout', () => {
  it('fails with the lock refusal, and with timeout when the lock does not answer', async () => {
    const world = await startWorld(broker, { serveArgs: ['--timeout', '2'] });
    const { seam } = world;
    const device = (await seam.devices.list())[0]!;
    const wait = { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } };

    // Passage mode holds the door open: the lock refuses `lock`, and the attempt says why.
    expect((await world.lockctl('mode', 'set', 'passage', '--device', 'door1')).status).toBe(0);
    expect(await failure(seam.locks.lockDoor({ device_id: device.device_id }, wait))).toEqual({
      code: 'passage_mode',
      attempt: expect.objectContaining({ status: 'error', action_type: 'LOCK_DOOR' }),
    });
    // sync: the answer comes after the reply.
    const unlocked = await seam.locks.unlockDoor(
      { device_id: device.device_id, sync: true },
      { waitForActionAttempt: false },
    );
    expect(unlocked).toMatchObject({ status: 'success', action_type: 'UNLOCK_DOOR' });

    // No lock to answer: the attempt ends as a timeout after --timeout.
    world.lock.child.kill('SIGKILL');
    await waitUntil(
      async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === false,
      15_000,
      'the lock to show offline',
    );
    expect(await failure(seam.locks.unlockDoor({ device_id: device.device_id }, wait))).toEqual({
      code: 'timeout',
      attempt: expect.objectContaining({ status: 'error', action_type: 'UNLOCK_DOOR' }),
    });
  }, 90_000);
});
