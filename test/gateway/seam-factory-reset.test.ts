import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { factoryReset } from '../../firmware/diag/factory-reset.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { createApiKey } from '../../gateway/seam/api-keys.ts';
import { serveGateway } from '../../gateway/serve.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { driveInRealTime } from '../../hal/scheduler.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { checkedSeamHttp } from './seam-schema.ts';
import { testDir } from './world.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

describe('a factory reset at the lock, seen through the Seam API', () => {
  it('reports the erased gateway codes as deleted_external_to_seam and sets them again', async () => {
    // The lock in this process (its clock in real time), the real gateway beside it.
    const dir = testDir();
    const lock = await SimLock.create({ config: { deviceId: 'door1' }, startEpochMs: Date.now() });
    const stopClock = driveInRealTime(lock.scheduler);
    const link = new SyncLink(lock.firmware, 'door1', {
      url: broker.url,
      outboxMax: 10_000,
      window: 64,
      ackTimeoutMs: 2000,
      maxRoundTripMs: 2000,
      homeAssistant: { discovery: false, allowUnlock: false },
    });
    link.start();
    const dbPath = join(dir, 'gateway.db');
    const setup = await openGatewayDb(dbPath);
    await addDevice(setup, 'door1', lock.firmware.secret);
    await setup.close();
    const running = await serveGateway({ dbPath, broker: { url: broker.url }, host: '127.0.0.1', port: 0 });
    onTestFinished(async () => {
      await running.close();
      stopClock();
      await link.stop();
      await lock.close();
    });
    const { key } = await createApiKey(running.gateway.store.sql, 'test');
    const { seam } = checkedSeamHttp(key, running.url);

    const device = (await seam.devices.list())[0]!;
    const guest = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'guest',
      code: '246813',
    });
    await waitUntil(
      async () => (await seam.accessCodes.get({ access_code_id: guest.access_code_id })).status === 'set',
      15_000,
      'the code to be set',
    );
    const held = () => lock.firmware.codes.list().filter((c) => c.ref === guest.access_code_id);
    expect(held()).toHaveLength(1);

    const reset = await factoryReset(lock.firmware, 'technician');
    expect(reset.codesRemoved).toBe(1);
    expect(held()).toHaveLength(0);
    await waitUntil(
      async () =>
        (await seam.events.list({ access_code_id: guest.access_code_id })).some(
          (e) => e.event_type === 'access_code.deleted_external_to_seam',
        ),
      20_000,
      'the deleted_external_to_seam event',
    );
    await waitUntil(
      async () =>
        held().length === 1 &&
        (await seam.accessCodes.get({ access_code_id: guest.access_code_id })).status === 'set',
      15_000,
      'the code to be set again after the reset',
    );
  }, 60_000);
});
