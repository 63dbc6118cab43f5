import { describe, expect, it } from 'vitest';
import { ConsoleHarness } from './harness.ts';

const auditTypes = (h: ConsoleHarness) =>
  h.lock.firmware.audit
    .latest(20)
    .reverse()
    .map((row) => row.type);

describe('console: remote lock and unlock and factory reset go through the lock manager', () => {
  it('relay lock in passage mode is refused by the shared rule (passage_mode), audited, bolt open', async () => {
    const h = await ConsoleHarness.create();
    await h.login();
    await h.run('mode set passage');
    expect(h.lock.firmware.manager.status().lock).toBe('unlocked');
    expect(await h.run('relay lock')).toEqual([
      'error: passage mode holds the lock open; set the mode to normal first',
    ]);
    expect(h.lock.firmware.manager.status().lock).toBe('unlocked');
    const refused = h.lock.firmware.audit.latest(5).find((row) => row.type === 'remote_refused');
    expect(refused?.data).toEqual({ by: 'technician', target: 'locked', reason: 'passage_mode' });
    expect(auditTypes(h)).not.toContain('remote_lock');
  });

  it('factory-reset from passage mode locks the bolt, in one audited step', async () => {
    const h = await ConsoleHarness.create();
    await h.login();
    await h.run('mode set passage');
    const before = h.lock.firmware.audit.lastSeq();
    await h.run('factory-reset confirm');
    await h.idle();
    expect(h.lock.firmware.manager.status()).toMatchObject({ mode: 'normal', lock: 'locked' });
    const rows = h.lock.firmware.audit
      .latest(20)
      .filter((row) => row.seq > before)
      .map((row) => row.type);
    expect(rows.filter((type) => type === 'factory_reset')).toHaveLength(1);
    expect(rows).not.toContain('mode_changed');
  });
});
