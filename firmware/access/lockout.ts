/**
 * Keypad lockout, as pure state transitions. Persisted by the caller before the
 * relay moves, so pulling the plug never resets a counter.
 */
export interface LockoutPolicy {
  /** Consecutive wrong entries that start a lockout. */
  wrongCodeLimit: number;
  /** First lockout length; doubles with each further lockout. */
  lockoutSeconds: number;
  /** Cap on one lockout's length. */
  lockoutMaxSeconds: number;
  /** Wrong entries allowed per local day; a success does not reset this budget. */
  dailyFailureLimit: number;
}

export interface LockoutState {
  consecutiveFailures: number;
  /** Lockouts since the last success: sets the doubling. */
  lockoutsInRow: number;
  lockedUntil: number | null;
  /** The local date ("2026-11-22") that `dailyFailures` counts for. */
  day: string;
  dailyFailures: number;
}

export const INITIAL_LOCKOUT: LockoutState = {
  consecutiveFailures: 0,
  lockoutsInRow: 0,
  lockedUntil: null,
  day: '',
  dailyFailures: 0,
};

export function isLockedOut(state: LockoutState, now: number): boolean {
  return state.lockedUntil !== null && now < state.lockedUntil;
}

export interface FailureOutcome {
  state: LockoutState;
  /** Set when this failure started a lockout. */
  lockout?: { until: number; cause: 'consecutive' | 'daily_budget'; seconds: number };
}

/**
 * Counts one wrong entry at `now`. `day` is the local date and `endOfDay` the instant
 * the local day ends (the daily budget's lockout lasts until then).
 */
export function recordFailure(
  state: LockoutState,
  now: number,
  day: string,
  endOfDay: number,
  policy: LockoutPolicy,
): FailureOutcome {
  const dailyFailures = (state.day === day ? state.dailyFailures : 0) + 1;
  const consecutiveFailures = state.consecutiveFailures + 1;
  const next: LockoutState = { ...state, day, dailyFailures, consecutiveFailures };
  if (dailyFailures >= policy.dailyFailureLimit) {
    next.lockedUntil = Math.max(endOfDay, state.lockedUntil ?? 0);
    next.consecutiveFailures = 0;
    next.lockoutsInRow = state.lockoutsInRow + 1;
    return {
      state: next,
      lockout: {
        until: next.lockedUntil,
        cause: 'daily_budget',
        seconds: Math.ceil((next.lockedUntil - now) / 1000),
      },
    };
  }
  if (consecutiveFailures >= policy.wrongCodeLimit) {
    const seconds = Math.min(policy.lockoutSeconds * 2 ** state.lockoutsInRow, policy.lockoutMaxSeconds);
    next.lockedUntil = now + seconds * 1000;
    next.consecutiveFailures = 0;
    next.lockoutsInRow = state.lockoutsInRow + 1;
    return { state: next, lockout: { until: next.lockedUntil, cause: 'consecutive', seconds } };
  }
  return { state: next };
}

/** A valid code resets the consecutive counter and the doubling (as in Matter), not the daily budget. */
export function recordSuccess(state: LockoutState): LockoutState {
  return { ...state, consecutiveFailures: 0, lockoutsInRow: 0 };
}
