import { describe, expect, it } from 'vitest';
import {
  INITIAL_LOCKOUT,
  isLockedOut,
  type LockoutPolicy,
  MAX_LOCKOUT_MS,
  parseLockoutState,
  recordFailure,
  recordSuccess,
  settle,
} from '../../firmware/access/lockout.ts';

const policy: LockoutPolicy = {
  wrongCodeLimit: 5,
  lockoutSeconds: 30,
  lockoutMaxSeconds: 3600,
  dailyFailureLimit: 50,
};
const DAY = 86_400_000;

function fail(times: number, start = INITIAL_LOCKOUT, day = '1970-01-01') {
  let state = start;
  const lockouts: number[] = [];
  for (let i = 0; i < times; i++) {
    // Each lockout is waited out before the next guess (on monotonic time).
    const outcome = recordFailure(settle(state, DAY), day, DAY / 2, policy);
    state = outcome.state;
    if (outcome.lockout) lockouts.push(outcome.lockout.seconds);
  }
  return { state, lockouts };
}

describe('lockout policy', () => {
  it('locks out after wrongCodeLimit consecutive failures, for lockoutSeconds of monotonic time', () => {
    const { state, lockouts } = fail(5);
    expect(lockouts).toEqual([30]);
    expect(isLockedOut(settle(state, 29_999))).toBe(true);
    expect(isLockedOut(settle(state, 30_000))).toBe(false);
    expect(isLockedOut(settle(settle(state, 10_000), 19_999))).toBe(true);
  });

  it('doubles each further lockout up to the cap, and a success resets the doubling', () => {
    const { lockouts, state } = fail(5 * 9);
    expect(lockouts).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    // next day, so the daily budget (45 used) does not interfere
    const after = fail(5, recordSuccess(state), '1970-01-02');
    expect(after.lockouts).toEqual([30]);
  });

  it('a success resets the consecutive counter but not the daily budget', () => {
    const { state } = fail(4);
    const reset = recordSuccess(state);
    expect(reset.consecutiveFailures).toBe(0);
    expect(reset.dailyFailures).toBe(4);
  });

  it('the daily budget locks out until the end of the local day', () => {
    let state = INITIAL_LOCKOUT;
    let last: ReturnType<typeof recordFailure> | undefined;
    for (let i = 0; i < 50; i++) {
      last = recordFailure(settle(state, 3_600_000), '1970-01-01', 5 * 3_600_000, policy);
      state = recordSuccess(last.state); // successes in between do not help
    }
    expect(last!.lockout).toEqual({ cause: 'daily_budget', seconds: 5 * 3600 });
    expect(isLockedOut(settle(state, 5 * 3_600_000 - 1))).toBe(true);
    const nextDay = recordFailure(settle(state, DAY), '1970-01-02', DAY, policy);
    expect(nextDay.state.dailyFailures).toBe(1);
  });

  it('a lockout never depends on the wall clock: its time left is all a reboot needs', () => {
    const { state } = fail(5);
    // Saved mid-lockout, then the power is cut: what it had left holds again after boot,
    // whatever the RTC says (a dead battery reads 2000-01-01).
    const saved = settle(state, 12_000);
    const rebooted = parseLockoutState(JSON.parse(JSON.stringify(saved)))!;
    expect(rebooted.remainingMs).toBe(18_000);
    expect(isLockedOut(settle(rebooted, 17_999))).toBe(true);
    expect(isLockedOut(settle(rebooted, 18_000))).toBe(false);
  });

  it('a further failure during a lockout never shortens it', () => {
    const daily = { ...INITIAL_LOCKOUT, day: '1970-01-01', dailyFailures: 49, remainingMs: 0 };
    const long = { ...daily, dailyFailures: 0, remainingMs: 3_600_000, consecutiveFailures: 4 };
    expect(recordFailure(long, '1970-01-01', DAY, policy).state.remainingMs).toBe(3_600_000);
    expect(recordFailure(daily, '1970-01-01', 60_000, policy).state.remainingMs).toBe(60_000);
  });
});

describe('parseLockoutState: the stored shape, or undefined', () => {
  const good = {
    consecutiveFailures: 2,
    lockoutsInRow: 1,
    remainingMs: 30_000,
    day: '2026-11-22',
    dailyFailures: 7,
  };

  it('accepts the shape it writes', () => {
    expect(parseLockoutState(good)).toEqual(good);
    expect(parseLockoutState(INITIAL_LOCKOUT)).toEqual(INITIAL_LOCKOUT);
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['a missing field', { ...good, dailyFailures: undefined }],
    ['an extra field', { ...good, lockedUntil: null }],
    [
      'the old wall-clock shape',
      { consecutiveFailures: 0, lockoutsInRow: 0, lockedUntil: 1, day: '', dailyFailures: 0 },
    ],
    ['a negative count', { ...good, consecutiveFailures: -1 }],
    ['a fractional count', { ...good, dailyFailures: 1.5 }],
    ['a string count', { ...good, lockoutsInRow: '1' }],
    ['a lockout longer than any policy gives', { ...good, remainingMs: MAX_LOCKOUT_MS + 1 }],
    ['an infinite lockout', { ...good, remainingMs: Number.POSITIVE_INFINITY }],
    ['a bad day', { ...good, day: 'monday' }],
  ])('refuses %s', (_label, value) => {
    expect(parseLockoutState(value)).toBeUndefined();
  });
});
