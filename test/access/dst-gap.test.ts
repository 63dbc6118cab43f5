import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dstGapWarning } from '../../firmware/access/dst-gap.ts';
import type { WeeklySchedule } from '../../firmware/access/types.ts';
import { applyDesiredCodes } from '../../firmware/sync/desired.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { ConsoleHarness } from '../diag/harness.ts';
import { runLockfw } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';

const JAN_2026 = Date.UTC(2026, 0, 10);
const slot = (days: WeeklySchedule['days'], from: string, to: string) => ({
  schedule: { days, from, to },
  startsAt: null,
  endsAt: null,
});

describe('a weekly slot wholly inside a spring-forward gap is warned about', () => {
  it.each([
    ['Europe/Berlin', slot(['sun'], '02:15', '02:45'), '2026-03-29'],
    ['America/New_York', slot(['sun'], '02:00', '02:59'), '2026-03-08'],
    // Chile skips 00:00-01:00; Lord Howe skips half an hour.
    ['America/Santiago', slot(['sun'], '00:00', '00:30'), '2026-09-06'],
    ['Australia/Lord_Howe', slot(['sun'], '02:00', '02:30'), '2026-10-04'],
  ])('%s %j', (zone, window, day) => {
    expect(dstGapWarning(window, zone, JAN_2026)).toBe(
      `the slot ${window.schedule.from}-${window.schedule.to} lies in a daylight-saving gap in ${zone} on ${day}: those wall times do not exist, so the code does not open that day`,
    );
  });

  it.each([
    [
      'a slot that only overlaps the gap (shortened, not lost)',
      'Europe/Berlin',
      slot(['sun'], '02:15', '03:45'),
    ],
    ['a day the clocks do not change', 'Europe/Berlin', slot(['sat'], '02:15', '02:45')],
    ['a zone without daylight saving', 'UTC', slot(['sun'], '02:15', '02:45')],
    ['a slot past midnight', 'Europe/Berlin', slot(['sat'], '23:00', '02:30')],
  ])('not for %s', (_what, zone, window) => {
    expect(dstGapWarning(window, zone, JAN_2026)).toBeNull();
  });

  it("looks only inside the code's window (April to December: only the fall-back overlap)", () => {
    const guest = {
      ...slot(['sun'], '02:15', '02:45'),
      startsAt: Date.UTC(2026, 3, 1),
      endsAt: Date.UTC(2027, 0, 1),
    };
    expect(dstGapWarning(guest, 'Europe/Berlin', JAN_2026)).toBeNull();
    const onlyThatWeekend = { ...guest, startsAt: Date.UTC(2026, 2, 27), endsAt: Date.UTC(2026, 2, 30) };
    expect(dstGapWarning(onlyThatWeekend, 'Europe/Berlin', JAN_2026)).toMatch(/on 2026-03-29:/);
  });
});

const START = Date.UTC(2026, 2, 20, 12, 0, 0);
const NIGHT = {
  name: 'night',
  pin: '2468',
  kind: 'recurring',
  schedule: { days: ['sun'], from: '02:15', to: '02:45' },
};

describe('every way of adding a code says so', () => {
  it('lockfw codes add prints the warning and still adds the code', async () => {
    const dataDir = tempDir();
    await (await SimLock.create({ dataDir })).close(); // an initialised store
    const config = join(tempDir(), 'lockfw.json');
    writeFileSync(config, JSON.stringify({ timezone: 'Europe/Berlin' }));
    const result = await runLockfw([
      ...['codes', 'add', '--data', dataDir, '--config', config, '--name', 'night', '--pin', '2468'],
      ...['--kind', 'recurring', '--days', 'sun', '--from', '02:15', '--to', '02:45'],
    ]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^added code 1 "night"/);
    expect(result.stderr).toMatch(
      /^lockfw codes add: warning: the slot 02:15-02:45 lies in a daylight-saving gap in Europe\/Berlin on \d{4}-03-\d\d:/,
    );
  });

  it('the console lists it under the codes', async () => {
    const harness = await ConsoleHarness.create({
      startEpochMs: START,
      config: { timezone: 'Europe/Berlin' },
    });
    expect(harness.lock.firmware.admin.add(NIGHT, 'test', START).ok).toBe(true);
    const lines = await harness.run('codes');
    expect(lines).toContain(
      'warning: code 1 "night": the slot 02:15-02:45 lies in a daylight-saving gap in Europe/Berlin on 2026-03-29: those wall times do not exist, so the code does not open that day',
    );
  });

  it('desired/codes reports it beside the code', async () => {
    const lock = await SimLock.create({ startEpochMs: START, config: { timezone: 'Europe/Berlin' } });
    onCleanup(() => lock.close());
    const { firmware } = lock;
    const outcome = applyDesiredCodes(
      {
        db: firmware.db,
        codes: firmware.codes,
        audit: firmware.audit,
        state: firmware.state,
        deviceId: 'front',
        pinKey: new Uint8Array(32),
        capacity: firmware.config.codeCapacity,
        timezone: firmware.manager.getSettings().timezone,
      },
      { revision: 1, issued_at: new Date(START).toISOString(), codes: [{ ref: 'n', ...NIGHT }] } as never,
      START,
    );
    expect(outcome).toMatchObject({
      applied: true,
      report: { codes: [{ ref: 'n', status: 'set', warning: expect.stringMatching(/on 2026-03-29:/) }] },
    });
  });
});
