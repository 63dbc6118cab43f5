import { DateTime } from 'luxon';
import {
  INITIAL_LOCKOUT,
  isLockedOut,
  type LockoutPolicy,
  type LockoutState,
  parseLockoutState,
  recordFailure,
  recordSuccess,
  settle,
} from '../access/lockout.ts';
import type { StateStore } from '../store/state.ts';

/**
 * The console login's escalation: the keypad's rule (firmware/access/lockout.ts) with
 * its own numbers. 5 wrong tokens in a row lock `login` out for 5 minutes, each further
 * lockout before a good token doubles it (up to 4 hours), and 20 wrong tokens in a local
 * day lock it out until the day ends: at most 20 guesses a day against an 80-bit tag.
 */
export const LOGIN_POLICY: Readonly<LockoutPolicy> = {
  wrongCodeLimit: 5,
  lockoutSeconds: 5 * 60,
  lockoutMaxSeconds: 4 * 3600,
  dailyFailureLimit: 20,
};
/** Wrong tokens in a row that lock `login` out. */
export const LOGIN_ATTEMPTS = LOGIN_POLICY.wrongCodeLimit;
/** How long the first lockout lasts. */
export const LOGIN_LOCKOUT_MS = LOGIN_POLICY.lockoutSeconds * 1000;

const KEY = 'diag_login';

export type LoginLockoutCause = 'consecutive' | 'daily_budget' | 'corrupt_state';

export type LoginGate =
  | { open: true; attemptsLeft: number }
  | { open: false; remainingMs: number; cause: LoginLockoutCause };

export interface LoginFailure {
  attemptsLeft: number;
  /** Set when this failure started a lockout. */
  lockout?: { remainingMs: number; cause: 'consecutive' | 'daily_budget' };
}

interface MonotonicClock {
  now(): number;
}

/** One per lock (per state store), so the time a lockout has left counts down between commands. */
const instances = new WeakMap<StateStore, LoginLockout>();

/**
 * The login lockout of the lock whose state is `state`, counting on `clock` (the
 * firmware's scheduler: monotonic). The console takes it when it starts, so the
 * countdown starts at boot.
 */
export function loginLockout(state: StateStore, clock: MonotonicClock): LoginLockout {
  let lockout = instances.get(state);
  if (!lockout) {
    lockout = new LoginLockout(state, clock);
    instances.set(state, lockout);
  }
  return lockout;
}

/** Forgets every count and lockout (factory reset), in the caller's transaction. */
export function resetLoginLockout(state: StateStore): void {
  state.set(KEY, INITIAL_LOCKOUT);
  instances.delete(state);
}

/**
 * The console's login lockout. Like the keypad's, it is measured on monotonic time,
 * never on the wall clock: the persisted state holds the time the lockout has left,
 * counted down on the scheduler and saved whenever it is looked at, so a reboot or a
 * pulled cable never shortens it, and neither a dead RTC nor a clock set back or
 * forward makes it last forever or end early. Only the daily budget uses the wall
 * clock, to know which local day a wrong token counts for. A persisted state that
 * does not read back is no reason to open: it becomes a first-length lockout.
 */
export class LoginLockout {
  private current: LockoutState;
  private corrupt = false;
  private settledAt: number;

  constructor(
    private readonly state: StateStore,
    private readonly clock: MonotonicClock,
  ) {
    this.settledAt = clock.now();
    this.current = this.load();
  }

  /** Whether `login` may try a token now; with `wallNow` and `zone`, attempts left count today's budget. */
  check(wallNow?: number, zone?: string): LoginGate {
    const state = this.settle();
    if (!isLockedOut(state)) {
      this.corrupt = false;
      const today = wallNow !== undefined && zone !== undefined ? localDay(wallNow, zone).day : undefined;
      return { open: true, attemptsLeft: attemptsLeft(state, today) };
    }
    const cause = this.corrupt
      ? 'corrupt_state'
      : state.consecutiveFailures === 0 && state.dailyFailures >= LOGIN_POLICY.dailyFailureLimit
        ? 'daily_budget'
        : 'consecutive';
    return { open: false, remainingMs: state.remainingMs, cause };
  }

  /** Counts a wrong token at wall time `wallNow`; the daily budget counts local days in `zone`. */
  recordFailure(wallNow: number, zone: string): LoginFailure {
    const { day, endOfDay } = localDay(wallNow, zone);
    const outcome = recordFailure(this.settle(), day, endOfDay - wallNow, LOGIN_POLICY);
    this.save(outcome.state);
    if (!outcome.lockout) return { attemptsLeft: attemptsLeft(outcome.state, day) };
    return {
      attemptsLeft: 0,
      lockout: { remainingMs: outcome.state.remainingMs, cause: outcome.lockout.cause },
    };
  }

  /** A good token: the run of wrong ones and the doubling start over, the daily budget does not. */
  recordSuccess(): void {
    this.save(recordSuccess(this.settle()));
  }

  /** The state counted down to now, saved when the countdown moved it. */
  private settle(): LockoutState {
    const now = this.clock.now();
    const next = settle(this.current, Math.max(0, now - this.settledAt));
    this.settledAt = now;
    if (next !== this.current) this.save(next);
    return next;
  }

  private save(next: LockoutState): void {
    this.current = next;
    this.state.set(KEY, next);
  }

  private load(): LockoutState {
    const raw = this.state.get<Record<string, unknown>>(KEY, {});
    if (Object.keys(raw).length === 0) return { ...INITIAL_LOCKOUT };
    const parsed = parseLockoutState(raw) ?? fromLegacy(raw);
    if (parsed) return parsed;
    // Fail closed: a lockout of the first length, saved, then counted down as usual.
    this.corrupt = true;
    const closed = { ...INITIAL_LOCKOUT, remainingMs: LOGIN_LOCKOUT_MS };
    this.state.set(KEY, closed);
    return closed;
  }
}

/** Before escalation the record was `{ failures, lockedUntil }` on the wall clock. */
function fromLegacy(raw: Record<string, unknown>): LockoutState | undefined {
  const keys = Object.keys(raw).sort().join(',');
  if (keys !== 'failures,lockedUntil') return undefined;
  const { failures, lockedUntil } = raw;
  if (!Number.isSafeInteger(failures) || (failures as number) < 0) return undefined;
  if (lockedUntil !== null && !(typeof lockedUntil === 'number' && Number.isFinite(lockedUntil)))
    return undefined;
  return {
    ...INITIAL_LOCKOUT,
    consecutiveFailures: lockedUntil === null ? (failures as number) : 0,
    lockoutsInRow: lockedUntil === null ? 0 : 1,
    // Its wall-clock end cannot be trusted: a full first lockout, never a shorter one.
    remainingMs: lockedUntil === null ? 0 : LOGIN_LOCKOUT_MS,
  };
}

function localDay(now: number, zone: string): { day: string; endOfDay: number } {
  const local = DateTime.fromMillis(now, { zone });
  return { day: local.toISODate()!, endOfDay: local.endOf('day').toMillis() + 1 };
}

/** Tokens left before the next lockout; the daily budget counts only when `today` is its day. */
function attemptsLeft(state: LockoutState, today?: string): number {
  const daily = today !== undefined && state.day !== today ? 0 : state.dailyFailures;
  return Math.max(
    0,
    Math.min(LOGIN_POLICY.wrongCodeLimit - state.consecutiveFailures, LOGIN_POLICY.dailyFailureLimit - daily),
  );
}
