import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MAX_LOCKOUT_MS, parseLockoutState } from '../../firmware/access/lockout.ts';
import { migrate } from '../../firmware/store/db.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The migration that turned the lockout's wall-clock end into the time it has left. */
const MIGRATION = 8;

function upgrade(lockout: unknown, clock?: unknown): unknown {
  const db = new Database(join(tempDir(), 'lock.db'));
  try {
    migrate(db, MIGRATION - 1);
    const put = db.prepare('INSERT INTO state (key, value) VALUES (?, ?)');
    put.run('lockout', typeof lockout === 'string' ? lockout : JSON.stringify(lockout));
    if (clock) put.run('clock', JSON.stringify(clock));
    migrate(db, MIGRATION);
    const row = db.prepare<[], { value: string }>("SELECT value FROM state WHERE key = 'lockout'").get()!;
    return JSON.parse(row.value);
  } finally {
    db.close();
  }
}

const legacy = { consecutiveFailures: 2, lockoutsInRow: 1, day: '2026-02-02', dailyFailures: 7 };
const clock = { floor: Date.UTC(2026, 1, 2, 8), untrusted: null, lastSyncAt: null, lastSyncSource: null };

describe(`migration ${MIGRATION}: a stored lockout keeps its counts and the time it had left`, () => {
  it('measures the time left from the clock floor (the last trusted time saved)', () => {
    const upgraded = upgrade({ ...legacy, lockedUntil: clock.floor + 45_000 }, clock);
    expect(parseLockoutState(upgraded)).toEqual({ ...legacy, remainingMs: 45_000 });
  });

  it('a lockout that had ended, or none, has nothing left', () => {
    expect(upgrade({ ...legacy, lockedUntil: clock.floor - 1 }, clock)).toEqual({
      ...legacy,
      remainingMs: 0,
    });
    expect(upgrade({ ...legacy, lockedUntil: null }, clock)).toEqual({ ...legacy, remainingMs: 0 });
  });

  it('without a floor it keeps the longest lockout there can be, never forever', () => {
    expect(upgrade({ ...legacy, lockedUntil: clock.floor })).toEqual({
      ...legacy,
      remainingMs: MAX_LOCKOUT_MS,
    });
  });

  it('leaves corrupt state alone for the validator to refuse', () => {
    expect(() => upgrade('{not json')).toThrow(SyntaxError);
  });
});
