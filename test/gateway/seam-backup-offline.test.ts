import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueOfflineCode } from '../../firmware/access/offline-issue.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';
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

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

async function lockCodes(world: World) {
  const listed = await runLockfw(['codes', 'list', '--data', world.dataDir, '--json']);
  expect(listed.status).toBe(0);
  return JSON.parse(listed.stdout) as Array<{ id: number; name: string; status: string; source: string }>;
}

async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    const e = error as { statusCode?: number; code?: string; message: string };
    return { status: e.statusCode, type: e.code, message: e.message };
  }
  throw new Error('expected a refusal');
}

const unlockedWith = async (world: World, accessCodeId: string) =>
  (await world.seam.events.list({ access_code_id: accessCodeId, event_type: 'lock.unlocked' })).length;

describe('the backup pool and offline codes, through @seamapi/http', () => {
  it('pulls a backup code that opens in the original window; issues an offline code that opens; revokes it', async () => {
    const world = await startWorld(broker);
    const { seam } = world;
    const device = (await seam.devices.list())[0]!;
    expect(device.properties.supports_backup_access_code_pool).toBe(true);
    await waitUntil(
      async () => (await seam.devices.get({ device_id: device.device_id })).properties.online === true,
      15_000,
      'the lock to show online',
    );

    // A code using the pool: the gateway keeps switched-off backup codes on the lock.
    const now = Date.now();
    const original = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'guest 7',
      code: '246813',
      starts_at: iso(now - HOUR),
      ends_at: iso(now + 24 * HOUR),
      use_backup_access_code_pool: true,
    });
    await waitUntil(
      async () =>
        (await seam.accessCodes.get({ access_code_id: original.access_code_id }))
          .is_backup_access_code_available,
      15_000,
      'a backup code to be available',
    );
    // The pool is on the lock, switched off, and not among the API's codes.
    expect((await lockCodes(world)).filter((c) => c.name === 'backup pool').map((c) => c.status)).toEqual([
      'disabled',
      'disabled',
      'disabled',
    ]);
    expect(
      (await seam.accessCodes.list({ device_id: device.device_id })).map((c) => c.access_code_id),
    ).toEqual([original.access_code_id]);

    const backup = await seam.accessCodes.pullBackupAccessCode({ access_code_id: original.access_code_id });
    expect(backup).toMatchObject({
      is_backup: true,
      starts_at: original.starts_at,
      ends_at: original.ends_at,
      type: 'time_bound',
      name: 'guest 7 (backup)',
    });
    expect(backup.code).toMatch(/^\d{6}$/);
    expect(backup.code).not.toBe('246813');
    expect(await seam.accessCodes.get({ access_code_id: original.access_code_id })).toMatchObject({
      pulled_backup_access_code_id: backup.access_code_id,
    });
    // Pulling again answers the same backup code.
    expect(
      (await seam.accessCodes.pullBackupAccessCode({ access_code_id: original.access_code_id }))
        .access_code_id,
    ).toBe(backup.access_code_id);
    expect(
      await seam.events.list({
        device_id: device.device_id,
        event_type: 'access_code.backup_access_code_pulled',
      }),
    ).toEqual([
      expect.objectContaining({
        access_code_id: original.access_code_id,
        backup_access_code_id: backup.access_code_id,
      }),
    ]);
    await waitUntil(
      async () => (await seam.accessCodes.get({ access_code_id: backup.access_code_id })).status === 'set',
      15_000,
      'the backup code to be set',
    );
    // The pool is topped up in the same revision.
    expect((await lockCodes(world)).filter((c) => c.name === 'backup pool')).toHaveLength(3);
    await world.control.request('press', { keys: `${backup.code}#` });
    await waitUntil(
      async () => (await unlockedWith(world, backup.access_code_id)) === 1,
      15_000,
      'the backup to open',
    );

    // A code without the pool has no backup.
    const plain = await seam.accessCodes.create({ device_id: device.device_id, name: 'plain', code: '1357' });
    expect(plain.is_backup_access_code_available).toBe(false);
    expect(
      await refusal(seam.accessCodes.pullBackupAccessCode({ access_code_id: plain.access_code_id })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^access_code_id: /) });

    // An offline code: issued at once from the lock's key, usable with no message to the lock.
    const start = Math.floor(Date.now() / HOUR) * HOUR;
    const offline = await seam.accessCodes.create({
      device_id: device.device_id,
      name: 'offline guest',
      is_offline_access_code: true,
      starts_at: iso(start + 10 * 60_000),
      ends_at: iso(start + 2 * HOUR + 10 * 60_000),
      max_time_rounding: '1hour',
    });
    expect(offline).toMatchObject({
      is_offline_access_code: true,
      status: 'set',
      type: 'time_bound',
      starts_at: iso(start),
      ends_at: iso(start + 3 * HOUR),
    });
    expect(offline.code).toMatch(/^\d{12}$/);
    // A window the rounding cannot reach is refused, naming the field.
    expect(
      await refusal(
        seam.accessCodes.create({
          device_id: device.device_id,
          is_offline_access_code: true,
          starts_at: iso(start),
          ends_at: iso(start + 400 * 24 * HOUR),
        }),
      ),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^ends_at: /) });
    expect(
      await refusal(
        seam.accessCodes.create({ device_id: device.device_id, is_offline_access_code: true, code: '1234' }),
      ),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/^code: /) });

    // A one-time offline code (is_one_time_use maps to the one_time kind: 24 h, once).
    const once = await seam.accessCodes.create({
      device_id: device.device_id,
      is_offline_access_code: true,
      is_one_time_use: true,
      starts_at: iso(start),
      ends_at: iso(start + 24 * HOUR),
    });
    expect(once).toMatchObject({
      is_one_time_use: true,
      is_offline_access_code: true,
      ends_at: iso(start + 24 * HOUR),
    });

    await world.control.request('press', { keys: `${offline.code}#` });
    await waitUntil(
      async () => (await unlockedWith(world, offline.access_code_id)) === 1,
      15_000,
      'the offline code to open',
    );
    await world.control.request('press', { keys: `${once.code}#` });
    await world.control.request('press', { keys: `${once.code}#` });
    await waitUntil(
      async () =>
        (await seam.events.list({ access_code_id: once.access_code_id, event_type: 'lock.access_denied' }))
          .length === 1,
      15_000,
      'the one-time offline code to be refused the second time',
    );
    expect(await unlockedWith(world, once.access_code_id)).toBe(1);

    // Deleting an offline code revokes it on the lock.
    await seam.accessCodes.delete({ access_code_id: offline.access_code_id });
    await waitUntil(
      async () =>
        (
          await seam.events.list({
            device_id: device.device_id,
            event_type: 'access_code.removed_from_device',
          })
        ).some((e) => (e as { access_code_id?: string }).access_code_id === offline.access_code_id),
      15_000,
      'the offline code to be revoked',
    );
    await world.control.request('press', { keys: `${offline.code}#` });
    await waitUntil(
      async () =>
        (await seam.events.list({ device_id: device.device_id, event_type: 'lock.access_denied' })).length ===
        2,
      15_000,
      'the revoked offline code to be refused',
    );

    // An erase code typed at the lock moves its offline key on: the codes issued under the
    // old key no longer open, and the gateway drops them.
    const erase = issueOfflineCode(
      readProvisioning(join(world.dir, 'door1.provisioning.json')).secret,
      1,
      { kind: 'erase', start: start },
      { timezone: 'UTC', length: 12 },
    );
    await world.control.request('press', { keys: `${erase.code}#` });
    await waitUntil(
      async () =>
        (await seam.events.list({ access_code_id: once.access_code_id })).some(
          (e) => e.event_type === 'access_code.deleted_external_to_seam',
        ),
      20_000,
      'the superseded offline code to be dropped',
    );
    await expect(seam.accessCodes.get({ access_code_id: once.access_code_id })).rejects.toMatchObject({
      code: 'access_code_not_found',
    });
    // A code issued now uses the new key version, and opens.
    const fresh = await seam.accessCodes.create({
      device_id: device.device_id,
      is_offline_access_code: true,
      starts_at: iso(start),
      ends_at: iso(start + 2 * HOUR),
    });
    await world.control.request('press', { keys: `${fresh.code}#` });
    await waitUntil(
      async () => (await unlockedWith(world, fresh.access_code_id)) === 1,
      15_000,
      'the new offline code to open',
    );

    // A 40-day stay from 15:00 to 11:00 (the lock's zone is UTC): no version 1 code
    // reaches it within an hour, so a version 2 daily code with check-in and check-out,
    // 15 digits, opens now, within 24 h of its check-in.
    const checkIn = Math.floor((Date.now() - 15 * HOUR) / (24 * HOUR)) * 24 * HOUR + 15 * HOUR;
    const stay = {
      device_id: device.device_id,
      is_offline_access_code: true,
      starts_at: iso(checkIn),
      ends_at: iso(checkIn + 40 * 24 * HOUR - 4 * HOUR),
    } as const;
    const guest = await seam.accessCodes.create({ ...stay, name: 'long stay' });
    expect(guest).toMatchObject({ type: 'time_bound', starts_at: stay.starts_at, ends_at: stay.ends_at });
    expect(guest.code).toMatch(/^\d{15}$/);
    // The same stay asked again: the next variant, other digits; both open.
    const second = await seam.accessCodes.create({ ...stay, name: 'long stay 2' });
    expect(second).toMatchObject({ starts_at: stay.starts_at, ends_at: stay.ends_at });
    expect(second.code).toMatch(/^\d{15}$/);
    expect(second.code).not.toBe(guest.code);
    await seam.accessCodes.create({ ...stay, name: 'long stay 3' });
    expect(await refusal(seam.accessCodes.create(stay))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/^starts_at: no distinct offline code left: all 3 daily codes/),
    });
    // Two identical short windows: version 1 first, then version 2 (another code).
    const slot = {
      device_id: device.device_id,
      is_offline_access_code: true,
      starts_at: iso(start),
      ends_at: iso(start + 5 * HOUR),
    } as const;
    const first = await seam.accessCodes.create(slot);
    const again = await seam.accessCodes.create(slot);
    expect(first.code).toMatch(/^\d{12}$/);
    expect(again.code).toMatch(/^\d{15}$/);
    expect(again).toMatchObject({ starts_at: slot.starts_at, ends_at: slot.ends_at });
    for (const code of [guest, second, first, again]) {
      await world.control.request('press', { keys: `${code.code}#` });
      await waitUntil(
        async () => (await unlockedWith(world, code.access_code_id)) === 1,
        15_000,
        `offline code ${code.name ?? ''} to open`,
      );
    }

    // No backup or offline PIN in events or logs.
    const events = JSON.stringify(await seam.events.list({ device_id: device.device_id }));
    for (const pin of [backup.code!, offline.code!, once.code!, guest.code!, again.code!]) {
      expect(events).not.toContain(pin);
      expect(world.serveOutput()).not.toContain(pin);
    }
  }, 120_000);
});
