import { describe, expect, it } from 'vitest';
import type { Firmware } from '../../firmware/firmware.ts';
import { ConsoleHarness } from '../diag/harness.ts';

/**
 * Makes the lock's own connection hit real SQLITE_FULL: the database may not grow past
 * its current pages, and the space left in them is used up by tiny rows.
 */
function fillDisk(firmware: Firmware): void {
  const { db } = firmware;
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const fillers = [
    () => firmware.audit.append('filler', {}, 0),
    (i: number) => db.prepare("INSERT INTO state (key, value) VALUES (?, '')").run(`filler-${i}`),
  ];
  for (const filler of fillers) {
    for (let i = 0; ; i++) {
      try {
        filler(i);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('SQLITE_FULL');
        break;
      }
    }
  }
}

function freeDisk(firmware: Firmware): void {
  firmware.db.pragma('max_page_count = 1073741823');
  firmware.db.prepare("DELETE FROM state WHERE key LIKE 'filler-%'").run();
}

async function fullDiskLock() {
  const logs: string[] = [];
  const h = await ConsoleHarness.create({
    config: { autoRelockSeconds: 5 },
    log: { level: 'info', sink: { write: (line) => logs.push(line) } },
  });
  const fw = h.lock.firmware;
  expect(fw.admin.add({ name: 'resident', pin: '2468' }, 'test', fw.manager.wallNow()).ok).toBe(true);
  return { h, fw, logs };
}

describe('a full disk: the lock keeps running and fails closed', () => {
  it('survives a relock it cannot record, refuses every code, says so, and recovers', async () => {
    const { h, fw, logs } = await fullDiskLock();
    await h.lock.press('2468#');
    expect(fw.manager.lock.state).toBe('unlocked');

    fillDisk(fw);
    // The auto-relock's lock_state row cannot be written: before, an uncaught SQLITE_FULL.
    await h.lock.advance(6000);
    expect(fw.manager.lock.state).toBe('locked');
    expect(fw.manager.status().storage).toMatchObject({ writable: false, full: true });
    expect(logs.some((line) => line.includes('storage full'))).toBe(true);

    // No grant without its commit: the right code is refused and the bolt does not move.
    const drives = h.lock.hal.actuator.drives.length;
    await h.lock.press('2468#');
    await h.lock.press('1111#');
    expect(fw.manager.lock.state).toBe('locked');
    expect(h.lock.hal.actuator.drives.length).toBe(drives);
    expect(fw.manager.status().lastDecision?.decision.outcome).toBe('granted'); // still the one before
    expect(fw.manager.status().storage.failedWrites).toBeGreaterThanOrEqual(3);

    // A mode change that cannot be written does not happen, in memory either.
    await expect(fw.manager.setMode('passage', 'test')).rejects.toMatchObject({ code: 'storage_failed' });
    expect(fw.manager.getSettings().mode).toBe('normal');

    // The console says so.
    const status = await h.run('status');
    expect(status.find((line) => line.startsWith('storage:'))).toMatch(
      /^storage: {3}FULL: \d+ writes failed for .*SQLITE_FULL.*every decision is refused/,
    );
    const selftest = await h.run('selftest');
    expect(selftest.find((line) => line.startsWith('database:'))).toMatch(/fail .*storage full/);

    // Space returns: the next entry is decided and committed as usual.
    freeDisk(fw);
    await h.lock.press('2468#');
    expect(fw.manager.status().lastDecision?.seq).toBeGreaterThan(0);
    expect(fw.manager.lock.state).toBe('unlocked');
    expect(fw.manager.status().storage).toMatchObject({ writable: true, failedWrites: 0 });
    expect(logs.some((line) => line.includes('storage writable again'))).toBe(true);
    expect((await h.run('status')).find((line) => line.startsWith('storage:'))).toMatch(
      /^storage: {3}writable/,
    );
    expect(fw.audit.verify()).toMatchObject({ ok: true });
  });

  it('a door or jam report it cannot record is a log line, not a crash', async () => {
    const { h, fw, logs } = await fullDiskLock();
    fillDisk(fw);
    h.lock.hal.door.set('open');
    await h.lock.settle();
    h.lock.hal.door.set('closed');
    await h.lock.settle();
    expect(fw.manager.status().storage.writable).toBe(false);
    expect(logs.filter((line) => line.includes('write failed')).length).toBeGreaterThan(0);
  });
});
