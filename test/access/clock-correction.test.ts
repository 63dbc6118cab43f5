import { describe, expect, it } from 'vitest';
import { expiryTime, judgeClockCorrection } from '../../firmware/access/clock-correction.ts';
import { decide } from '../../firmware/access/decide.ts';
import type { Credential } from '../../firmware/access/types.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { ConsoleHarness } from '../diag/harness.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TOLERANCE = 300_000;
const T0 = Date.UTC(2026, 5, 1, 8);

describe('judgeClockCorrection: the one rule for setting the time', () => {
  const judge = (to: number, confirmedBackward = false, highWater = T0) =>
    judgeClockCorrection({ to, highWater, toleranceMs: TOLERANCE, confirmedBackward });

  it('forward, or back within the floor tolerance, needs nothing', () => {
    expect(judge(T0 + DAY)).toEqual({ ok: true, backward: false, stepMs: DAY });
    expect(judge(T0 - TOLERANCE)).toEqual({ ok: true, backward: false, stepMs: -TOLERANCE });
    expect(judge(T0 - 23 * 30 * DAY, false, 0)).toMatchObject({ ok: true, backward: false });
  });

  it('back beyond the tolerance is refused unless confirmed', () => {
    expect(judge(T0 - TOLERANCE - 1)).toMatchObject({ ok: false, error: 'backward_unconfirmed' });
    expect(judge(T0 - 23 * 30 * DAY)).toMatchObject({ ok: false, stepMs: -23 * 30 * DAY });
    expect(judge(T0 - DAY, true)).toEqual({ ok: true, backward: true, stepMs: -DAY });
  });

  it('refuses nonsense arguments', () => {
    expect(() => judge(Number.NaN)).toThrow(RangeError);
    expect(() => judge(T0, false, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('expiry is judged no earlier than the latest trusted time', () => {
    expect(expiryTime(T0 - DAY, T0)).toBe(T0);
    expect(expiryTime(T0 + 1, T0)).toBe(T0 + 1);
  });
});

describe('decide: moving the clock back does not re-open an expired code', () => {
  const guest: Credential = {
    id: 1,
    name: 'guest',
    kind: 'time_bound',
    role: 'standard',
    enabled: true,
    revoked: false,
    assigned: true,
    startsAt: T0 - 3 * DAY,
    endsAt: T0 - DAY,
    schedule: null,
    maxUses: null,
    expireAfterFirstUseMin: null,
    uses: 0,
    firstUsedAt: null,
  };
  const judged = (credential: Credential, now: number, highWater: number) =>
    decide({
      entry: '1234',
      acceptedLengths: { min: 4, max: 10, offline: 12 },
      credential,
      now,
      clockTrusted: true,
      highWater,
      lockedOut: false,
      mode: 'normal',
      timezone: 'UTC',
      graceMs: 120_000,
    });

  it('a window that ended before the high-water mark stays expired', () => {
    expect(judged(guest, T0 - 2 * DAY, T0 - 2 * DAY)).toMatchObject({ outcome: 'granted' });
    expect(judged(guest, T0 - 2 * DAY, T0)).toMatchObject({ outcome: 'denied', reason: 'expired' });
  });

  it('expire-after-first-use counts from the first use as an instant', () => {
    const used = { ...guest, kind: 'ongoing' as const, startsAt: null, endsAt: null };
    const cleaner = { ...used, expireAfterFirstUseMin: 60, firstUsedAt: T0 - 2 * HOUR };
    expect(judged(cleaner, T0 - DAY, T0)).toMatchObject({ outcome: 'denied', reason: 'expired' });
  });

  it('a start is judged on the clock as it is now (moving back can only delay a code)', () => {
    const later = { ...guest, startsAt: T0 - HOUR, endsAt: T0 + DAY };
    expect(judged(later, T0 - DAY, T0)).toMatchObject({ outcome: 'denied', reason: 'not_yet_active' });
  });
});

async function lockWithGuests(): Promise<SimLock> {
  const lock = await SimLock.create({ startEpochMs: T0, travelMs: 0 });
  const now = lock.firmware.manager.wallNow();
  const add = (spec: Record<string, unknown>) => {
    const result = lock.firmware.admin.add(spec as never, 'test', now);
    expect(result).toMatchObject({ ok: true });
  };
  add({
    name: 'guest',
    pin: '1111',
    kind: 'time_bound',
    starts_at: new Date(T0 - 10 * DAY).toISOString(),
    ends_at: new Date(T0 + HOUR).toISOString(),
  });
  add({ name: 'once', pin: '2222', kind: 'one_time' });
  add({ name: 'cleaner', pin: '3333', expire_after_first_use: 60 });
  add({ name: 'owner', pin: '9999' });
  return lock;
}

const lastDecision = (lock: SimLock) => lock.firmware.manager.status().lastDecision?.decision;

describe('LockManager.setTime: a backward correction is confirmed, audited and re-opens nothing', () => {
  it('refuses an unconfirmed move back (audited), changing nothing', async () => {
    const lock = await lockWithGuests();
    try {
      const before = lock.firmware.clock.snapshot();
      const { verdict } = await lock.firmware.manager.setTime(T0 - 30 * DAY, 'technician', 'test');
      expect(verdict).toMatchObject({ ok: false, error: 'backward_unconfirmed' });
      expect(lock.firmware.clock.snapshot()).toEqual(before);
      expect(Math.abs(lock.firmware.manager.wallNow() - T0)).toBeLessThan(60_000);
      const refused = lock.firmware.audit.latest(5).find((row) => row.type === 'clock_backward_refused');
      expect(refused?.data).toMatchObject({
        to: new Date(T0 - 30 * DAY).toISOString(),
        source: 'technician',
      });
    } finally {
      await lock.close();
    }
  });

  it('confirmed, it is audited with both times; expired, used and first-used codes stay so', async () => {
    const lock = await lockWithGuests();
    try {
      await lock.press('2222#');
      await lock.press('3333#');
      expect(lastDecision(lock)).toMatchObject({ outcome: 'granted' });
      await lock.advance(2 * HOUR); // guest ended at T0+1h; cleaner's hour is up
      await lock.press('1111#');
      expect(lastDecision(lock)).toMatchObject({ outcome: 'denied', reason: 'expired' });
      const wall = lock.firmware.manager.wallNow();

      const { verdict } = await lock.firmware.manager.setTime(T0 - DAY, 'technician', 'test', {
        confirmedBackward: true,
      });
      expect(verdict).toMatchObject({ ok: true, backward: true });
      const row = lock.firmware.audit.latest(5).find((r) => r.type === 'clock_backward');
      expect(row?.data).toMatchObject({
        to: new Date(T0 - DAY).toISOString(),
        source: 'technician',
        by: 'test',
      });
      expect(Date.parse(String(row?.data.from))).toBeGreaterThanOrEqual(wall - 1000);
      expect(lock.firmware.manager.status().clockTrusted).toBe(true);

      for (const [pin, reason] of [
        ['1111#', 'expired'],
        ['2222#', 'used_up'],
        ['3333#', 'expired'],
      ] as const) {
        await lock.press(pin);
        expect(lastDecision(lock)).toMatchObject({ outcome: 'denied', reason });
      }
      await lock.press('9999#');
      expect(lastDecision(lock)).toMatchObject({ outcome: 'granted' });

      // The high-water mark survives a reboot.
      await lock.powerCycle();
      await lock.press('1111#');
      expect(lastDecision(lock)).toMatchObject({ outcome: 'denied', reason: 'expired' });
    } finally {
      await lock.close();
    }
  });
});

describe('console: time set needs --backward to move the clock back', () => {
  it('refuses without the flag, accepts with it, and says codes that expired stay expired', async () => {
    const h = await ConsoleHarness.create({ startEpochMs: T0 });
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
    const refused = await h.json('time set 2024-07-01T08:00:00Z');
    expect(refused).toMatchObject({ ok: false, error: 'backward_unconfirmed' });
    expect(String(refused.message)).toMatch(/--backward/);
    expect(Math.abs(h.lock.firmware.manager.wallNow() - T0)).toBeLessThan(60_000);

    const lines = await h.run('time set 2024-07-01T08:00:00Z --backward');
    expect(lines[0]).toMatch(/^time set to 2024-07-01 08:00:00 .*codes that had expired stay expired$/);
    expect(h.lock.firmware.clock.snapshot().highWater).toBeGreaterThanOrEqual(T0);
    const actions = h.lock.firmware.audit.latest(20).filter((row) => row.type === 'technician_action');
    expect(actions.at(-1)?.data).toMatchObject({
      action: 'time_set',
      backward: true,
      to: '2024-07-01T08:00:00Z',
    });
    expect((await h.run('time set 2024-07-01T08:00:00Z --forward'))[0]).toMatch(/^error: /);
  });
});
