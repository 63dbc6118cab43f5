/**
 * Keypad lockout, as pure state transitions. Persisted by the caller before the
 * relay moves, so pulling the plug never resets a counter.
 *
 * A lockout is measured on monotonic time, never on the wall clock: the state holds
 * the time the lockout has left (`remainingMs`), the caller counts it down with
 * `settle` on its monotonic clock and persists it on every change. After a power cut
 * the lockout holds again for what it had left when last saved (a power cycle never
 * shortens it), whatever the RTC reads: a dead RTC battery cannot make a past lockout
 * last forever, and setting the clock cannot end one early.
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
  /** Time the current lockout has left (ms) when this state was taken; 0 for none. */
  remainingMs: number;
  /** The local date ("2026-11-22") that `dailyFailures` counts for. */
  day: string;
  dailyFailures: number;
}

export const INITIAL_LOCKOUT: LockoutState = {
  consecutiveFailures: 0,
  lockoutsInRow: 0,
  remainingMs: 0,
  day: '',
  dailyFailures: 0,
};

/** The longest lockout there can be: the daily budget's, to the end of a 25-hour local day. */
export const MAX_LOCKOUT_MS = 25 * 3_600_000;

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * The persisted lockout state if `value` has exactly its shape, else undefined
 * (the caller refuses corrupt state and fails closed).
 */
export function parseLockoutState(value: unknown): LockoutState | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'consecutiveFailures,dailyFailures,day,lockoutsInRow,remainingMs') return undefined;
  if (!isCount(v.consecutiveFailures) || !isCount(v.lockoutsInRow) || !isCount(v.dailyFailures))
    return undefined;
  if (!isCount(v.remainingMs) || v.remainingMs > MAX_LOCKOUT_MS) return undefined;
  if (typeof v.day !== 'string' || !(v.day === '' || /^\d{4,6}-\d{2}-\d{2}$/.test(v.day))) return undefined;
  return {
    consecutiveFailures: v.consecutiveFailures,
    lockoutsInRow: v.lockoutsInRow,
    remainingMs: v.remainingMs,
    day: v.day,
    dailyFailures: v.dailyFailures,
  };
}

/** The state `elapsedMs` of monotonic time later: the lockout's time left counted down. */
export function settle(state: LockoutState, elapsedMs: number): LockoutState {
  if (!(elapsedMs >= 0)) throw new RangeError('elapsedMs must be >= 0');
  if (state.remainingMs === 0 || elapsedMs === 0) return state;
  return { ...state, remainingMs: Math.max(0, state.remainingMs - elapsedMs) };
}

export function isLockedOut(state: LockoutState): boolean {
  return state.remainingMs > 0;
}

export interface FailureOutcome {
  state: LockoutState;
  /** Set when this failure started a lockout. */
  lockout?: { cause: 'consecutive' | 'daily_budget'; seconds: number };
}

/**
 * Counts one wrong entry on a settled state. `day` is the local date and
 * `msToEndOfDay` the time until the local day ends (the daily budget's lockout lasts
 * until then).
 */
export function recordFailure(
  state: LockoutState,
  day: string,
  msToEndOfDay: number,
  policy: LockoutPolicy,
): FailureOutcome {
  const dailyFailures = (state.day === day ? state.dailyFailures : 0) + 1;
  const consecutiveFailures = state.consecutiveFailures + 1;
  const next: LockoutState = { ...state, day, dailyFailures, consecutiveFailures };
  if (dailyFailures >= policy.dailyFailureLimit) {
    next.remainingMs = Math.max(Math.min(Math.max(msToEndOfDay, 0), MAX_LOCKOUT_MS), state.remainingMs);
    next.consecutiveFailures = 0;
    next.lockoutsInRow = state.lockoutsInRow + 1;
    return {
      state: next,
      lockout: { cause: 'daily_budget', seconds: Math.ceil(next.remainingMs / 1000) },
    };
  }
  if (consecutiveFailures >= policy.wrongCodeLimit) {
    const seconds = Math.min(policy.lockoutSeconds * 2 ** state.lockoutsInRow, policy.lockoutMaxSeconds);
    next.remainingMs = Math.max(seconds * 1000, state.remainingMs);
    next.consecutiveFailures = 0;
    next.lockoutsInRow = state.lockoutsInRow + 1;
    return { state: next, lockout: { cause: 'consecutive', seconds } };
  }
  return { state: next };
}

/** A valid code resets the consecutive counter and the doubling (as in Matter), not the daily budget. */
export function recordSuccess(state: LockoutState): LockoutState {
  return { ...state, consecutiveFailures: 0, lockoutsInRow: 0 };
}
