import { describe, expect, it } from 'vitest';
import {
  INITIAL_LOCKOUT,
  isLockedOut,
  type LockoutPolicy,
  recordFailure,
  recordSuccess,
} from '../../firmware/access/lockout.ts';

const policy: LockoutPolicy = {
  wrongCodeLimit: 5,
  lockoutSeconds: 30,
  lockoutMaxSeconds: 3600,
  dailyFailureLimit: 50,
};
const END_OF_DAY = 86_400_000;

function fail(times: number, start = INITIAL_LOCKOUT, day = '1970-01-01', at = 1000) {
  let state = start;
  const lockouts: number[] = [];
  for (let i = 0; i < times; i++) {
    const outcome = recordFailure(state, at, day, END_OF_DAY, policy);
    state = outcome.state;
    if (outcome.lockout) lockouts.push(outcome.lockout.seconds);
  }
  return { state, lockouts };
}

describe('lockout policy', () => {
  it('locks out after wrongCodeLimit consecutive failures, for lockoutSeconds', () => {
    const { state, lockouts } = fail(5);
    expect(lockouts).toEqual([30]);
    expect(isLockedOut(state, 1000 + 29_999)).toBe(true);
    expect(isLockedOut(state, 1000 + 30_000)).toBe(false);
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
      last = recordFailure(state, 1000 + i, '1970-01-01', END_OF_DAY, policy);
      state = recordSuccess(last.state); // successes in between do not help
    }
    expect(last!.lockout).toMatchObject({ cause: 'daily_budget', until: END_OF_DAY });
    const nextDay = recordFailure(state, END_OF_DAY + 1, '1970-01-02', 2 * END_OF_DAY, policy);
    expect(nextDay.state.dailyFailures).toBe(1);
  });
});
