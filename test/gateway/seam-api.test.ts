import { SeamWebhook } from '@seamapi/webhook';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLockfw } from '../helpers/lockfw-process.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { waitUntil } from '../helpers/wait.ts';
import { headersOf, receiver } from './webhook-receiver.ts';
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

// The same flow on the embedded SQLite file and on PostgreSQL (a database of its own).
describe.each(['sqlite', 'postgres'] as const)(
  'the Seam API of lockctl serve on %s, driven by @seamapi/http against a simulated lock',
  (db) => {
    it('lists the lock, sets time-bound codes, opens with one, unlocks by action attempt, deletes, reports offline, sets a code made while offline', async () => {
      // A lock of its own per run: the broker is shared, and the first run's lock leaves its
      // retained last will (offline) behind.
      const world = await startWorld(broker, { db, deviceId: `door-${db}` });
      const { seam } = world;

      const devices = await seam.devices.list();
      expect(devices).toHaveLength(1);
      const device = devices[0]!;
      expect(device).toMatchObject({
        display_name: `door-${db}`,
        device_type: 'tumbler_lock',
        is_managed: true,
      });
      await waitUntil(
        async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === true,
        15_000,
        'the lock to show online',
      );
      expect(await seam.locks.get({ device_id: device.device_id })).toMatchObject({
        device_id: device.device_id,
        errors: [],
      });
      expect((await seam.locks.list()).map((d) => d.device_id)).toEqual([device.device_id]);

      // A time-bound code that has begun: setting, then set once the lock reports it.
      const now = Date.now();
      const guest = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'guest 42',
        code: '246813',
        starts_at: iso(now - HOUR),
        ends_at: iso(now + 24 * HOUR),
      });
      expect(guest).toMatchObject({
        status: 'setting',
        type: 'time_bound',
        code: '246813',
        is_scheduled_on_device: true,
      });
      await waitUntil(
        async () => (await seam.accessCodes.get({ access_code_id: guest.access_code_id })).status === 'set',
        15_000,
        'the guest code to be set',
      );
      // One that begins tomorrow is stored on the lock at once (native scheduling): set too.
      const later = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'next guest',
        code: '97531',
        starts_at: iso(now + 24 * HOUR),
        ends_at: iso(now + 48 * HOUR),
      });
      await waitUntil(
        async () => (await seam.accessCodes.get({ access_code_id: later.access_code_id })).status === 'set',
        15_000,
        'the later code to be set',
      );
      const listed = await seam.accessCodes.list({ device_id: device.device_id });
      expect(listed.map((c) => [c.access_code_id, c.status, c.errors])).toEqual([
        [guest.access_code_id, 'set', []],
        [later.access_code_id, 'set', []],
      ]);

      // The booking system listens for unlocks on a webhook.
      const hook = await receiver(() => 200);
      const webhook = await seam.webhooks.create({ url: hook.url, event_types: ['lock.unlocked'] });

      // The guest types the code at the lock: lock.unlocked with the code's id.
      await world.control.request('press', { keys: '246813#' });
      await world.control.request('press', { keys: '97531#' });
      await waitUntil(
        async () =>
          (await seam.events.list({ device_id: device.device_id, event_type: 'lock.access_denied' })).length >
          0,
        15_000,
        'the lock events at the gateway',
      );
      const unlocked = await seam.events.list({ device_id: device.device_id, event_type: 'lock.unlocked' });
      expect(unlocked).toEqual([
        expect.objectContaining({ method: 'keycode', access_code_id: guest.access_code_id }),
      ]);
      expect(
        await seam.events.list({ device_id: device.device_id, event_type: 'lock.access_denied' }),
      ).toEqual([expect.objectContaining({ access_code_id: later.access_code_id })]);
      const guestEvents = await seam.events.list({ access_code_id: guest.access_code_id });
      expect(guestEvents.map((e) => e.event_type)).toEqual([
        'lock.unlocked',
        'access_code.set_on_device',
        'access_code.created',
      ]);
      await waitUntil(() => hook.deliveries.length > 0, 15_000, 'the lock.unlocked webhook');
      const delivered = new SeamWebhook(webhook.secret!).verify(
        hook.deliveries[0]!.body,
        headersOf(hook.deliveries[0]!),
      ) as Record<string, unknown>;
      expect(delivered).toEqual(unlocked[0]);
      expect(await seam.events.get({ event_id: unlocked[0]!.event_id })).toMatchObject({
        event_type: 'lock.unlocked',
      });

      // Remote unlock and lock: action attempts resolved from the signed command's reply.
      const unlock = await seam.locks.unlockDoor(
        { device_id: device.device_id },
        { waitForActionAttempt: false },
      );
      expect(unlock).toMatchObject({ action_type: 'UNLOCK_DOOR', status: 'pending' });
      const resolved = await seam.actionAttempts.get(
        { action_attempt_id: unlock.action_attempt_id },
        { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } },
      );
      expect(resolved).toMatchObject({ status: 'success', action_type: 'UNLOCK_DOOR' });
      const locked = await seam.locks.lockDoor(
        { device_id: device.device_id },
        { waitForActionAttempt: { timeout: 15_000, pollingInterval: 200 } },
      );
      expect(locked).toMatchObject({ status: 'success', action_type: 'LOCK_DOOR' });
      expect(
        (await seam.actionAttempts.list({ device_id: device.device_id })).map((a) => a.action_type).sort(),
      ).toEqual(['CREATE_ACCESS_CODE', 'CREATE_ACCESS_CODE', 'LOCK_DOOR', 'UNLOCK_DOOR']);
      expect(
        (await seam.actionAttempts.list({ device_id: device.device_id })).every(
          (a) => a.status === 'success',
        ),
      ).toBe(true);
      await waitUntil(
        async () =>
          (await seam.events.list({ device_id: device.device_id, event_type: 'lock.unlocked' })).some(
            (e) => (e as { method?: string }).method === 'seamapi',
          ),
        15_000,
        'the remote unlock event',
      );

      // Delete: removing, then gone once the lock reports the revision without it.
      await seam.accessCodes.delete({ access_code_id: later.access_code_id });
      await waitUntil(
        async () => {
          try {
            await seam.accessCodes.get({ access_code_id: later.access_code_id });
            return false;
          } catch (error) {
            return (error as { code?: string }).code === 'access_code_not_found';
          }
        },
        15_000,
        'the deleted code to be gone',
      );
      expect(
        (await seam.accessCodes.list({ device_id: device.device_id })).map((c) => c.access_code_id),
      ).toEqual([guest.access_code_id]);

      // An update is a new revision; its action attempt succeeds once the lock reports it set.
      await seam.accessCodes.update({
        access_code_id: guest.access_code_id,
        name: 'guest 42 (late checkout)',
      });
      await waitUntil(
        async () =>
          (await seam.actionAttempts.list({ device_id: device.device_id })).some(
            (a) => a.action_type === 'UPDATE_ACCESS_CODE' && a.status === 'success',
          ),
        15_000,
        'the update to be set',
      );
      expect(await seam.accessCodes.get({ access_code_id: guest.access_code_id })).toMatchObject({
        status: 'set',
        name: 'guest 42 (late checkout)',
      });

      // A code the lock refuses (its PIN is a code added at the lock itself): the lock's
      // per-code error becomes the access code's error, its action attempt fails, an event says so.
      const local = await runLockfw(
        ['codes', 'add', '--data', world.dataDir, '--name', 'technician', '--pin-stdin'],
        '8642\n',
      );
      expect(local.status).toBe(0);
      const clash = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'clash',
        code: '8642',
      });
      await waitUntil(
        async () => (await seam.accessCodes.get({ access_code_id: clash.access_code_id })).status === 'unset',
        15_000,
        'the lock to refuse the clashing code',
      );
      expect((await seam.accessCodes.get({ access_code_id: clash.access_code_id })).errors).toEqual([
        expect.objectContaining({ error_code: 'duplicate_code_on_device', is_access_code_error: true }),
      ]);
      expect(
        (await seam.events.list({ access_code_id: clash.access_code_id })).map((e) => e.event_type),
      ).toEqual(['access_code.failed_to_set_on_device', 'access_code.created']);
      const clashAttempt = (await seam.actionAttempts.list({ device_id: device.device_id })).find(
        (a) => a.action_type === 'CREATE_ACCESS_CODE' && a.status === 'error',
      );
      expect(clashAttempt).toMatchObject({ error: { type: 'duplicate_code_on_device' } });
      await seam.accessCodes.delete({ access_code_id: clash.access_code_id });

      // PINs appear in the code's own responses only: never in events, action attempts or logs.
      const events = await seam.events.list({ device_id: device.device_id });
      const attempts = await seam.actionAttempts.list({ device_id: device.device_id });
      expect(JSON.stringify([events, attempts])).not.toMatch(/246813|97531/);
      expect(world.serveOutput()).not.toMatch(/246813|97531/);
      expect(world.lock.output()).not.toMatch(/246813|97531/);

      // The lock goes away: its last will marks it offline.
      world.lock.child.kill('SIGKILL');
      await waitUntil(
        async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === false,
        15_000,
        'the lock to show offline',
      );
      const offline = await seam.devices.get({ device_id: device.device_id });
      expect(offline.errors).toEqual([expect.objectContaining({ error_code: 'device_disconnected' })]);
      const code = await seam.accessCodes.get({ access_code_id: guest.access_code_id });
      expect(code.errors).toEqual([expect.objectContaining({ error_code: 'device_disconnected' })]);
      expect(
        await seam.events.list({ device_id: device.device_id, event_type: 'device.disconnected' }),
      ).toEqual([expect.objectContaining({ error_code: 'device_disconnected' })]);

      // Created while the lock is offline: it waits in the retained desired document, and
      // is set once the lock is back.
      const whileOffline = await seam.accessCodes.create({
        device_id: device.device_id,
        name: 'walk-in',
        code: '13579',
      });
      expect(whileOffline).toMatchObject({
        status: 'setting',
        errors: [expect.objectContaining({ error_code: 'device_disconnected' })],
      });
      const again = await world.restartLock();
      await waitUntil(
        async () =>
          (await seam.accessCodes.get({ access_code_id: whileOffline.access_code_id })).status === 'set',
        20_000,
        'the code created while offline to be set after reconnect',
      );
      expect((await seam.devices.get({ device_id: device.device_id })).errors).toEqual([]);
      await again.request('press', { keys: '13579#' });
      await waitUntil(
        async () =>
          (
            await seam.events.list({
              access_code_id: whileOffline.access_code_id,
              event_type: 'lock.unlocked',
            })
          ).length === 1,
        15_000,
        'the walk-in code to open the lock',
      );
      expect(world.seen.length).toBeGreaterThan(20);
    }, 120_000);
  },
);
