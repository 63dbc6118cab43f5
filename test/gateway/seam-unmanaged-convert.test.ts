import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLockfw } from '../helpers/lockfw-process.ts';
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

/** What a technician sees at the lock (`lockfw codes list --json`): no PINs. */
async function lockCodes(world: World) {
  const listed = await runLockfw(['codes', 'list', '--data', world.dataDir, '--json']);
  expect(listed.status).toBe(0);
  return JSON.parse(listed.stdout) as Array<{ id: number; name: string; source: string; status: string }>;
}

async function technician(world: World, args: string[], stdin?: string) {
  const done = await runLockfw(['codes', ...args, '--data', world.dataDir], stdin);
  expect(done.status, done.stderr).toBe(0);
}

/** The one event of `type` (waits for it), with its access_code_id. */
async function eventOf(world: World, type: string, what: string, accessCodeId?: string) {
  const find = async () =>
    (
      await world.seam.events.list({
        event_type: type as 'access_code.unmanaged.created',
        ...(accessCodeId ? { access_code_id: accessCodeId } : {}),
      })
    )[0] as { access_code_id?: string } | undefined;
  await waitUntil(async () => (await find()) !== undefined, 20_000, what);
  return (await find())!;
}

describe.each(['sqlite', 'postgres'] as const)(
  'unmanaged codes (%s): events from the lock, and conversion to managed codes',
  (db) => {
    it('a code added at the lock is announced, converted keeping its PIN, managed after; refusals change nothing', async () => {
      const world = await startWorld(broker, { db });
      const { seam } = world;
      const device = (await seam.devices.list())[0]!;
      await waitUntil(
        async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === true,
        15_000,
        'the lock to show online',
      );

      // Added at the lock: the lock's code_added event becomes access_code.unmanaged.created,
      // naming the same access_code_id the unmanaged list gives.
      await technician(world, ['add', '--name', 'cleaner', '--pin-stdin'], '8642\n');
      const created = await eventOf(world, 'access_code.unmanaged.created', 'the unmanaged.created event');
      const cleanerId = created.access_code_id!;
      const listed = await seam.accessCodes.unmanaged.list({ device_id: device.device_id });
      expect(listed).toEqual([
        expect.objectContaining({
          access_code_id: cleanerId,
          name: 'cleaner',
          code: null,
          is_managed: false,
        }),
      ]);

      // Refusals, each changing nothing.
      const unknownId = '00000000-0000-4000-8000-000000000000';
      await expect(
        seam.accessCodes.unmanaged.convertToManaged({ access_code_id: unknownId }),
      ).rejects.toMatchObject({ code: 'access_code_not_found' });
      await expect(
        seam.accessCodes.unmanaged.convertToManaged({
          access_code_id: cleanerId,
          allow_external_modification: true,
          is_external_modification_allowed: false,
        }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(
        seam.accessCodes.unmanaged.convertToManaged({ access_code_id: cleanerId, sync: true }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(
        seam.accessCodes.unmanaged.update({ access_code_id: cleanerId, is_managed: false }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
      // A master code's role is not something a Seam access code carries: not converted.
      await technician(world, ['add', '--name', 'owner', '--role', 'master', '--pin-stdin'], '97531\n');
      await waitUntil(
        async () =>
          (await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).some(
            (c) => c.name === 'owner',
          ),
        15_000,
        'the master code to be listed',
      );
      const masterId = (await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).find(
        (c) => c.name === 'owner',
      )!.access_code_id;
      await eventOf(world, 'access_code.unmanaged.created', 'the master code announced', masterId);
      await expect(
        seam.accessCodes.unmanaged.convertToManaged({ access_code_id: masterId }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
      expect(await seam.accessCodes.list({ device_id: device.device_id })).toEqual([]);
      expect((await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).length).toBe(2);

      // Converted: the lock adopts its own code (the gateway never learns the PIN).
      await seam.accessCodes.unmanaged.convertToManaged({ access_code_id: cleanerId });
      expect(
        (await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).map((c) => c.name),
      ).toEqual(['owner']);
      await eventOf(world, 'access_code.unmanaged.converted_to_managed', 'the conversion', cleanerId);
      const managed = await seam.accessCodes.get({ access_code_id: cleanerId });
      expect(managed).toMatchObject({ name: 'cleaner', code: null, is_managed: true, status: 'set' });
      expect((await lockCodes(world)).find((c) => c.name === 'cleaner')).toMatchObject({ source: 'gateway' });
      await expect(
        seam.accessCodes.unmanaged.convertToManaged({ access_code_id: cleanerId }),
      ).rejects.toMatchObject({ code: 'access_code_not_found' });

      // Its PIN opens as a managed code's, also after an update declared it again (keep_pin).
      await world.control.request('press', { keys: '8642#' });
      await eventOf(world, 'lock.unlocked', 'the converted code to open', cleanerId);
      await seam.accessCodes.update({ access_code_id: cleanerId, name: 'cleaner (managed)' });
      await waitUntil(
        async () =>
          (await lockCodes(world)).some((c) => c.name === 'cleaner (managed)' && c.source === 'gateway'),
        15_000,
        'the renamed code at the lock',
      );
      await world.control.request('press', { keys: '8642#' });
      await waitUntil(
        async () =>
          (await seam.events.list({ access_code_id: cleanerId, event_type: 'lock.unlocked' })).length === 2,
        15_000,
        'the renamed code to open with its PIN',
      );

      // Switched off at the lock: re-set like any managed code, keeping the PIN the lock holds.
      const renamed = (await lockCodes(world)).find((c) => c.name === 'cleaner (managed)')!;
      await technician(world, ['disable', '--id', String(renamed.id)]);
      await eventOf(world, 'access_code.modified_external_to_seam', 'the change at the lock', cleanerId);
      await waitUntil(
        async () => (await lockCodes(world)).find((c) => c.name === 'cleaner (managed)')?.status === 'active',
        15_000,
        'the converted code to be switched on again',
      );
      await world.control.request('press', { keys: '8642#' });
      await waitUntil(
        async () =>
          (await seam.events.list({ access_code_id: cleanerId, event_type: 'lock.unlocked' })).length === 3,
        15_000,
        'the re-set code to open with its PIN',
      );

      // Removed at the lock: access_code.unmanaged.removed, from the lock's own event.
      const ownerAtLock = (await lockCodes(world)).find((c) => c.name === 'owner')!;
      await technician(world, ['remove', '--id', String(ownerAtLock.id)]);
      await eventOf(world, 'access_code.unmanaged.removed', 'the unmanaged.removed event', masterId);

      // A conversion the lock cannot carry out (the code was removed there meanwhile) fails,
      // and the code is not managed.
      await technician(world, ['add', '--name', 'temp', '--pin-stdin'], '1357\n');
      await waitUntil(
        async () =>
          (await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).some(
            (c) => c.name === 'temp',
          ),
        15_000,
        'the temp code to be listed',
      );
      const tempId = (await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).find(
        (c) => c.name === 'temp',
      )!.access_code_id;
      world.lock.child.kill('SIGKILL');
      await waitUntil(
        async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === false,
        15_000,
        'the lock to show offline',
      );
      await seam.accessCodes.unmanaged.update({ access_code_id: tempId, is_managed: true });
      expect(await seam.accessCodes.get({ access_code_id: tempId })).toMatchObject({
        status: 'setting',
        code: null,
      });
      const tempAtLock = (await lockCodes(world)).find((c) => c.name === 'temp')!;
      await technician(world, ['remove', '--id', String(tempAtLock.id)]);
      await world.restartLock();
      await eventOf(
        world,
        'access_code.unmanaged.failed_to_convert_to_managed',
        'the failed conversion',
        tempId,
      );
      await expect(seam.accessCodes.get({ access_code_id: tempId })).rejects.toMatchObject({
        code: 'access_code_not_found',
      });
      expect(
        (await seam.accessCodes.list({ device_id: device.device_id })).map((c) => c.access_code_id),
      ).toEqual([cleanerId]);

      // Deleted through the API, the adopted code leaves the lock like any managed code.
      await seam.accessCodes.delete({ access_code_id: cleanerId });
      await eventOf(world, 'access_code.removed_from_device', 'the converted code removed', cleanerId);
      expect((await lockCodes(world)).map((c) => c.name)).toEqual([]);
      // The lock's PIN never leaves it: not in the gateway's answers, events or logs.
      const all = await seam.events.list({ device_id: device.device_id });
      expect(JSON.stringify([all, await seam.accessCodes.list({ device_id: device.device_id })])).not.toMatch(
        /"(8642|97531|1357)"/,
      );
      expect(world.serveOutput()).not.toMatch(/"(8642|97531|1357)"/);
    }, 180_000);
  },
);
