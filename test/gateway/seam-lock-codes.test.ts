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
  return JSON.parse(listed.stdout) as Array<{ id: number; name: string; status: string; source: string }>;
}

async function technician(world: World, ...args: string[]) {
  const done = await runLockfw(['codes', ...args, '--data', world.dataDir]);
  expect(done.status, done.stderr).toBe(0);
}

const events = async (world: World, accessCodeId: string) =>
  (await world.seam.events.list({ access_code_id: accessCodeId })).map((e) => e.event_type);

describe('codes the lock holds: unmanaged codes and changes made at the lock', () => {
  it('lists, gets and deletes codes added at the lock; re-sets a gateway code removed there; keeps a change the code allows', async () => {
    const world = await startWorld(broker);
    const { seam } = world;
    const device = (await seam.devices.list())[0]!;
    await waitUntil(
      async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === true,
      15_000,
      'the lock to show online',
    );

    // A code added at the lock itself is unmanaged: listed with its name, never its PIN.
    const added = await runLockfw(
      ['codes', 'add', '--data', world.dataDir, '--name', 'technician', '--pin-stdin'],
      '8642\n',
    );
    expect(added.status).toBe(0);
    const unmanaged = await seam.accessCodes.unmanaged.list({ device_id: device.device_id });
    expect(unmanaged).toEqual([
      expect.objectContaining({
        name: 'technician',
        code: null,
        is_managed: false,
        status: 'set',
        type: 'ongoing',
      }),
    ]);
    const local = unmanaged[0]!;
    expect(await seam.accessCodes.unmanaged.get({ access_code_id: local.access_code_id })).toEqual(local);
    // It is not one of the managed codes.
    expect(await seam.accessCodes.list({ device_id: device.device_id })).toEqual([]);

    // Deleting it removes it from the lock.
    await seam.accessCodes.unmanaged.delete({ access_code_id: local.access_code_id });
    const removal = (await seam.actionAttempts.list({ device_id: device.device_id })).find(
      (a) => a.action_type === 'DELETE_ACCESS_CODE',
    )!;
    const attempt = await seam.actionAttempts.get(
      { action_attempt_id: removal.action_attempt_id },
      { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } },
    );
    expect(attempt).toMatchObject({ status: 'success', action_type: 'DELETE_ACCESS_CODE' });
    expect(await seam.accessCodes.unmanaged.list({ device_id: device.device_id })).toEqual([]);
    expect((await lockCodes(world)).filter((c) => c.name === 'technician')).toEqual([]);
    await expect(
      seam.accessCodes.unmanaged.get({ access_code_id: local.access_code_id }),
    ).rejects.toMatchObject({ code: 'access_code_not_found' });

    // A gateway code removed at the lock by a technician: the gateway notices and re-sets it.
    const guest = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'guest',
      code: '246813',
    });
    const kept = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'owner',
      code: '97531',
      allow_external_modification: true,
    });
    expect(kept.is_external_modification_allowed).toBe(true);
    expect(guest.is_external_modification_allowed).toBe(false);
    await waitUntil(
      async () =>
        (await seam.accessCodes.list({ device_id: device.device_id })).every((c) => c.status === 'set'),
      15_000,
      'both codes to be set',
    );
    const guestAtLock = (await lockCodes(world)).find((c) => c.name === 'guest')!;
    await technician(world, 'remove', '--id', String(guestAtLock.id));
    await waitUntil(
      async () =>
        (await events(world, guest.access_code_id)).includes('access_code.deleted_external_to_seam'),
      20_000,
      'the deleted_external_to_seam event',
    );
    await waitUntil(
      async () =>
        (await lockCodes(world)).some((c) => c.name === 'guest' && c.source === 'gateway') &&
        (await seam.accessCodes.get({ access_code_id: guest.access_code_id })).status === 'set',
      15_000,
      'the guest code to be set again',
    );
    expect(await events(world, guest.access_code_id)).toEqual([
      'access_code.set_on_device',
      'access_code.deleted_external_to_seam',
      'access_code.set_on_device',
      'access_code.created',
    ]);
    await world.control.request('press', { keys: '246813#' });
    await waitUntil(
      async () =>
        (await seam.events.list({ access_code_id: guest.access_code_id, event_type: 'lock.unlocked' }))
          .length === 1,
      15_000,
      'the re-set code to open',
    );

    // Switched off at the lock: a modification, and the guest code is switched on again.
    const guestAgain = (await lockCodes(world)).find((c) => c.name === 'guest')!;
    await technician(world, 'disable', '--id', String(guestAgain.id));
    await waitUntil(
      async () =>
        (await events(world, guest.access_code_id)).includes('access_code.modified_external_to_seam'),
      20_000,
      'the modified_external_to_seam event',
    );
    await waitUntil(
      async () => (await lockCodes(world)).find((c) => c.name === 'guest')?.status === 'active',
      15_000,
      'the guest code to be switched on again',
    );

    // The owner's code allows external modification: switched off at the lock, it stays off,
    // through later revisions too.
    const ownerAtLock = (await lockCodes(world)).find((c) => c.name === 'owner')!;
    await technician(world, 'disable', '--id', String(ownerAtLock.id));
    await waitUntil(
      async () =>
        (await events(world, kept.access_code_id)).includes('access_code.modified_external_to_seam'),
      20_000,
      'the modified_external_to_seam event',
    );
    const later = await seam.accessCodes.create({ device_id: device.device_id, name: 'later', code: '1357' });
    await waitUntil(
      async () => (await seam.accessCodes.get({ access_code_id: later.access_code_id })).status === 'set',
      15_000,
      'a later revision to be set',
    );
    expect((await lockCodes(world)).find((c) => c.name === 'owner')).toMatchObject({ status: 'disabled' });
    expect(await events(world, kept.access_code_id)).toEqual([
      'access_code.modified_external_to_seam',
      'access_code.set_on_device',
      'access_code.created',
    ]);

    // Deleted at the lock, a code that allows it is dropped by the gateway too.
    await technician(world, 'remove', '--id', String(ownerAtLock.id));
    await waitUntil(
      async () => (await events(world, kept.access_code_id)).includes('access_code.deleted_external_to_seam'),
      20_000,
      'the deleted_external_to_seam event of the owner code',
    );
    await expect(seam.accessCodes.get({ access_code_id: kept.access_code_id })).rejects.toMatchObject({
      code: 'access_code_not_found',
    });
    expect((await lockCodes(world)).map((c) => c.name).sort()).toEqual(['guest', 'later']);

    // A one-time code deleted at the lock may have been used: dropped, never set again.
    const once = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'once',
      code: '55667',
      is_one_time_use: true,
    });
    await waitUntil(
      async () => (await seam.accessCodes.get({ access_code_id: once.access_code_id })).status === 'set',
      15_000,
      'the one-time code to be set',
    );
    const onceAtLock = (await lockCodes(world)).find((c) => c.name === 'once')!;
    await technician(world, 'remove', '--id', String(onceAtLock.id));
    await waitUntil(
      async () => (await events(world, once.access_code_id)).includes('access_code.deleted_external_to_seam'),
      20_000,
      'the deleted_external_to_seam event of the one-time code',
    );
    await expect(seam.accessCodes.get({ access_code_id: once.access_code_id })).rejects.toMatchObject({
      code: 'access_code_not_found',
    });
    expect((await lockCodes(world)).map((c) => c.name)).not.toContain('once');

    // Never a PIN in what the gateway says about codes held at the lock.
    expect(world.serveOutput()).not.toMatch(/8642|246813|97531|55667/);
  }, 120_000);
});
