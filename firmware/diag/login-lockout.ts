import type { StateStore } from '../store/state.ts';

/** Wrong tokens in a row that lock `login` out. */
export const LOGIN_ATTEMPTS = 5;
/** How long `login` stays locked out. */
export const LOGIN_LOCKOUT_MS = 5 * 60_000;

const KEY = 'diag_login';

interface LoginLockoutRecord {
  failures: number;
  /** Wall-clock epoch ms; null when not locked out. */
  lockedUntil: number | null;
}

const INITIAL: LoginLockoutRecord = { failures: 0, lockedUntil: null };

export type LoginGate = { open: true; attemptsLeft: number } | { open: false; remainingMs: number };

/**
 * The console's login lockout, persisted in the state store so a reboot (or pulling
 * the cable) resets nothing. Times are the lock's wall clock; a lockout that reaches
 * further than LOGIN_LOCKOUT_MS ahead means the clock went backwards (a dead RTC
 * reads 2000-01-01), and is cut back, so a technician is never locked out for years
 * exactly when they come to set the time.
 */
export class LoginLockout {
  constructor(private readonly state: StateStore) {}

  check(now: number): LoginGate {
    const record = this.read();
    if (record.lockedUntil === null) return { open: true, attemptsLeft: LOGIN_ATTEMPTS - record.failures };
    if (now >= record.lockedUntil) {
      this.state.set(KEY, INITIAL);
      return { open: true, attemptsLeft: LOGIN_ATTEMPTS };
    }
    if (record.lockedUntil - now > LOGIN_LOCKOUT_MS) {
      record.lockedUntil = now + LOGIN_LOCKOUT_MS;
      this.state.set(KEY, record);
    }
    return { open: false, remainingMs: record.lockedUntil - now };
  }

  /** Counts a wrong token; returns the lockout's end when this one started it. */
  recordFailure(now: number): { failures: number; lockedUntil: number | null } {
    const record = this.read();
    record.failures++;
    if (record.failures >= LOGIN_ATTEMPTS) record.lockedUntil = now + LOGIN_LOCKOUT_MS;
    this.state.set(KEY, record);
    return { failures: record.failures, lockedUntil: record.lockedUntil };
  }

  reset(): void {
    this.state.set(KEY, INITIAL);
  }

  private read(): LoginLockoutRecord {
    const record = this.state.get<LoginLockoutRecord>(KEY, INITIAL);
    if (!Number.isInteger(record.failures) || record.failures < 0) record.failures = 0;
    if (record.lockedUntil !== null && !Number.isFinite(record.lockedUntil)) record.lockedUntil = null;
    return record;
  }
}
