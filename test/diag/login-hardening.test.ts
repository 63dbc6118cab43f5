import { describe, expect, it } from 'vitest';
import { LOGIN_LOCKOUT_MS, LOGIN_POLICY } from '../../firmware/diag/login-lockout.ts';
import { ConsoleHarness } from './harness.ts';

const HOUR = 3_600_000;

/** Types `count` wrong tokens; returns the last answer. */
async function wrongTokens(h: ConsoleHarness, count: number): Promise<string> {
  let last = '';
  for (let i = 0; i < count; i++)
    [last = ''] = await h.run('login tt1.lock-1.00000000000000000000000000000000');
  return last;
}

describe('console: a token typed without the space', () => {
  it('loginTOKEN is masked, never quoted in the error and never recalled, even after a cable pull', async () => {
    const h = await ConsoleHarness.create();
    const token = h.token();
    const body = token.split('.')[2]!;
    h.output = '';
    await h.type(`login${token}\r`);
    expect(h.output).toContain('unknown command (a login line, not repeated: it may hold a token)');
    expect(h.output).not.toContain(body.slice(0, 8));
    expect(h.output).not.toContain('lock-1.');
    // `login` edited away after the token: still masked, still not quoted.
    await h.type(`login ${token}\x01${'\x1b[3~'.repeat(6)}\r`);
    expect(h.output).not.toContain(body.slice(0, 8));
    expect(h.output).not.toContain('lock-1.');
    await h.type(`status\r`);
    h.console.hangUp();
    h.output = '';
    // The next person on the cable recalls nothing: not the token, not the commands.
    await h.type('\x1b[A\x1b[A');
    expect(h.output).not.toContain('status');
    expect(h.output).not.toContain(body.slice(0, 8));
    h.output = '';
    await h.type('\x1b]0;title\x07\x1bP+q\x1b\\help\r');
    expect(h.output).not.toContain('title');
    expect(h.output).toContain('Read-only commands');
  });

  it('a login line behind an output flag (`--json login TOKEN`) is masked and never recalled either', async () => {
    const h = await ConsoleHarness.create();
    const token = h.token();
    const body = token.split('.')[2]!;
    for (const line of [`--json login ${token}`, ` --plain LOGIN ${token}`]) {
      h.output = '';
      await h.type(`${line}\r`);
      expect(h.output).not.toContain(body.slice(0, 8));
      expect(h.output).toMatch(/logged in as technician|"ok":\s*true/);
      await h.run('logout');
    }
    h.output = '';
    await h.type('\x1b[A\x1b[A\x1b[A');
    expect(h.output).not.toContain(body.slice(0, 8));
  });
});

describe('console: login escalation (the keypad rule)', () => {
  it('each further lockout doubles; a reboot or a clock set back shortens none', async () => {
    const h = await ConsoleHarness.create();
    expect(await wrongTokens(h, 5)).toMatch(/login is now locked out for 5m 00s$/);
    await h.lock.advance(LOGIN_LOCKOUT_MS);
    expect(await wrongTokens(h, 5)).toMatch(/login is now locked out for 10m 00s$/);
    // A power cycle and a clock 3 days ahead end nothing early: the minute before the
    // cut was never saved, so it is served again (a power cut never shortens a lockout).
    await h.lock.advance(60_000);
    await h.lock.powerCycle();
    h.reattach();
    h.lock.hal.rtc.setTime(h.lock.firmware.manager.wallNow() + 3 * 24 * HOUR);
    await h.lock.advance(60_000);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^error: login is locked out for 9m 0\ds more/);
    await h.lock.advance(10 * 60_000);
    expect(await wrongTokens(h, 5)).toMatch(/login is now locked out for 20m 00s$/);
    // A good token ends the doubling (not the daily budget).
    await h.lock.advance(20 * 60_000);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
    await h.run('logout');
    expect(await wrongTokens(h, 1)).toMatch(/; 4 attempts left before a lockout$/);
    const lockouts = h.lock.firmware.audit.latest(200).filter((row) => row.type === 'technician_lockout');
    expect(lockouts.map((row) => row.data.seconds)).toEqual([300, 600, 1200]);
  });

  it(`${LOGIN_POLICY.dailyFailureLimit} wrong tokens in a day lock login out until midnight`, async () => {
    const start = Date.UTC(2026, 2, 10, 8, 0, 0);
    const h = await ConsoleHarness.create({ startEpochMs: start, config: { timezone: 'Europe/Berlin' } });
    for (let round = 0; round < 3; round++) {
      await wrongTokens(h, 5);
      await h.lock.advance(4 * HOUR + 1000);
      // Keep the clock trusted: the lock's RTC runs on, as on a real board.
    }
    // 15 wrong so far; 4 more, then the 20th of the day locks out until 00:00 Berlin.
    expect(await wrongTokens(h, 4)).toMatch(/; 1 attempt left before a lockout$/);
    const wall = h.lock.firmware.manager.wallNow();
    const midnight = Date.UTC(2026, 2, 10, 23, 0, 0);
    const last = await wrongTokens(h, 1);
    const minutes = Math.round((midnight - wall) / 60_000);
    expect(last).toMatch(/login is now locked out for \d+h \d\dm/);
    expect(h.lock.firmware.audit.latest(5).find((r) => r.type === 'technician_lockout')!.data).toMatchObject({
      cause: 'daily_budget',
    });
    expect((await h.json('login tt1.lock-1.x')).cause).toBe('daily_budget');
    await h.lock.advance((minutes - 1) * 60_000);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^error: login is locked out for \d+s more/);
    await h.lock.advance(2 * 60_000);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
  });

  it('a stored login lockout that does not read back fails closed', async () => {
    const h = await ConsoleHarness.create();
    h.lock.firmware.state.set('diag_login', { consecutiveFailures: 'many' });
    await h.lock.powerCycle();
    h.reattach();
    const answer = await h.json(`login ${h.token()}`);
    expect(answer).toMatchObject({ ok: false, error: 'login_locked_out', cause: 'corrupt_state' });
    await h.lock.advance(LOGIN_LOCKOUT_MS);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
  });
});

describe('console: a token is held to the time since its first login', () => {
  it('setting the clock back neither keeps a session nor lets the token in again', async () => {
    const h = await ConsoleHarness.create();
    const token = h.token(HOUR);
    expect((await h.run(`login ${token}`))[0]).toMatch(/^logged in as technician/);
    // Two days back, trusted (as a technician's `time set` would): the wall clock now
    // says the token has two days and an hour left.
    await h.lock.firmware.clock.setTrusted(h.lock.firmware.manager.wallNow() - 48 * HOUR, 'technician', {
      confirmedBackward: true,
    });
    await h.lock.firmware.manager.refreshClock();
    h.output = '';
    for (let minute = 0; minute < 61; minute++) {
      await h.lock.advance(60_000);
      await h.type('\x15');
    }
    await h.idle();
    expect(h.output).toContain('technician token expired: logged out');
    const again = await h.json(`login ${token}`);
    expect(again).toMatchObject({ ok: false, error: 'token_expired' });
    expect(String(again.message)).toMatch(/clock was set back/);
    // It was a genuine token: it does not count toward the lockout.
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
  });
});
