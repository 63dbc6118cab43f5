import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBroker } from '../helpers/mosquitto.ts';
import { startRig } from '../helpers/sync-rig.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

describe('the lock commands behind the Seam API (docs/protocol.md)', () => {
  it('lists every code without PINs, removes only local codes, and types on a keypad only when simulated', async () => {
    const rig = await startRig(broker, 'cmdcodes');
    const { lock, gateway, channel } = rig;
    const now = lock.firmware.manager.wallNow();
    const local = lock.firmware.admin.add({ name: 'technician', pin: '8642', kind: 'ongoing' }, 'test', now);
    const backup = lock.firmware.admin.addBackup('9753', 'test', now);
    expect(local.ok && backup.ok).toBe(true);
    let counter = 0;
    const run = (name: string, args: Record<string, unknown> = {}) =>
      gateway.command(channel, ++counter, name, args, 10_000);

    const listed = await run('list_codes');
    expect(listed).toMatchObject({
      ok: true,
      result: {
        applied_revision: 0,
        offline: { key_version: 1, length: 12, timezone: expect.any(String) },
        codes: [
          expect.objectContaining({ name: 'technician', source: 'local', enabled: true, ref: null }),
          expect.objectContaining({ name: 'backup-1', source: 'backup', assigned: false }),
        ],
      },
    });
    expect(JSON.stringify(listed)).not.toMatch(/8642|9753|pin/);

    // A backup-pool code is not a local code: refused, nothing removed.
    const backupId = lock.firmware.codes.list().find((c) => c.source === 'backup')!.id;
    expect(await run('remove_code', { id: backupId })).toMatchObject({ ok: false, error: 'not_found' });
    expect(await run('remove_code', { id: 999 })).toMatchObject({ ok: false, error: 'not_found' });
    expect(lock.firmware.codes.count()).toBe(2);
    const localId = lock.firmware.codes.list().find((c) => c.source === 'local')!.id;
    expect(await run('remove_code', { id: localId })).toMatchObject({ ok: true, result: { id: localId } });
    expect(lock.firmware.codes.list().map((c) => c.source)).toEqual(['backup']);

    // This lock's link has no simulated keypad (as on real hardware): refused.
    expect(await run('sim_keypad', { code: '9753' })).toMatchObject({ ok: false, error: 'not_sim' });
    expect(await run('sim_keypad', { code: '97x3' })).toMatchObject({ ok: false, error: 'invalid_args' });
  }, 60_000);
});
