import { describe, expect, it } from 'vitest';
import { LOGIN_LOCKOUT_MS } from '../../firmware/diag/login-lockout.ts';
import { SESSION_IDLE_MS } from '../../firmware/diag/session.ts';
import { deriveTechKey, mintTechToken } from '../../firmware/diag/tech-token.ts';
import { ConsoleHarness } from './harness.ts';

const auditTypes = (h: ConsoleHarness) => h.lock.firmware.audit.latest(1000).map((row) => row.type);
const auditText = (h: ConsoleHarness) => JSON.stringify(h.lock.firmware.audit.latest(1000));

describe('console: technician login', () => {
  it('logs in with a token: # prompt, audited by token id, the token never shown nor kept', async () => {
    const h = await ConsoleHarness.create();
    const token = h.token();
    h.output = '';
    await h.type(`login ${token}\r`);
    expect(h.output).toMatch(
      /logged in as technician until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((2h 00m 00s|1h 59m 59s) left\)\./,
    );
    expect(h.output.endsWith('lock-1# ')).toBe(true);
    expect(h.output).not.toContain(token.split('.')[2]);
    expect(auditTypes(h)).toContain('technician_login');
    expect(auditText(h)).not.toContain(token.split('.')[2]);
    // Not in the history: the up arrow does not bring it back.
    h.output = '';
    await h.type('\x1b[A');
    expect(h.output).not.toContain('login');
    expect((await h.json('status')).login).toMatchObject({ technician: true });
    expect(await h.run('logout')).toEqual(['logged out']);
    expect(h.output.endsWith('lock-1> ')).toBe(true);
    expect(auditTypes(h)).toContain('technician_logout');
    expect(await h.run('logout')).toEqual(['not logged in']);
  });

  it('login alone asks for the token on its own line, masked', async () => {
    const h = await ConsoleHarness.create();
    const token = h.token();
    h.output = '';
    await h.type('login\r');
    expect(h.output.endsWith('token: ')).toBe(true);
    await h.type(`${token}\r`);
    expect(h.output).toContain('*'.repeat(token.length));
    expect(h.output).not.toContain(token);
    expect(h.output.endsWith('lock-1# ')).toBe(true);
    // Ctrl-C at the token prompt abandons the login.
    await h.run('logout');
    h.output = '';
    await h.type('login\r');
    await h.type('\x03');
    expect(h.output).toContain('error: interrupted');
    expect(h.output.endsWith('lock-1> ')).toBe(true);
  });

  it('privileged commands need a login; the log level changes only for a technician', async () => {
    const h = await ConsoleHarness.create();
    for (const command of [
      'time set 2025-11-22T14:03:00Z',
      'mode set vacation',
      'relay unlock',
      'relay lock',
      'codes disable 1',
      'factory-reset confirm',
    ]) {
      const [line] = await h.run(command);
      expect(line, command).toMatch(/^error: ".+" needs a technician login first: login TOKEN$/);
    }
    expect(h.lock.firmware.manager.getSettings().mode).toBe('normal');
    await h.login();
    expect(await h.run('log level debug')).toEqual(['log level: debug (was silent)']);
    expect(h.logControl.level).toBe('debug');
    expect((await h.run('log level loud'))[0]).toMatch(
      /^error: LEVEL must be one of debug, info, warn, error, silent/,
    );
  });

  it('five wrong tokens lock login out for 5 minutes, across a reboot; expired tokens do not count', async () => {
    const h = await ConsoleHarness.create();
    const other = mintTechToken(
      deriveTechKey(new Uint8Array(32).fill(7)),
      'lock-1',
      3_600_000,
      h.lock.firmware.manager.wallNow(),
    );
    expect(await h.run(`login ${other}`)).toEqual([
      'error: login refused: that token does not verify for this lock; 4 attempts left before a lockout',
    ]);
    expect(await h.run('login hunter2')).toEqual([
      'error: login refused: that is not a technician token (expected tt1.<device id>.<32 characters>); 3 attempts left before a lockout',
    ]);
    expect(await h.run(`login ${h.token(3_600_000, 'lock-9')}`)).toEqual([
      'error: login refused: that token is for another lock; 2 attempts left before a lockout',
    ]);
    // A genuine but expired token is not a guess.
    const expired = h.token(60_000);
    await h.lock.advance(61_000);
    expect((await h.run(`login ${expired}`))[0]).toMatch(
      /^error: that token expired at .*; ask the gateway for a new one$/,
    );
    expect((await h.json(`login ${other}`)).attempts_left).toBe(1);
    expect(await h.run(`login ${other}`)).toEqual([
      'error: login refused: that token does not verify for this lock; login is now locked out for 5m 00s',
    ]);
    // Locked out: even a good token is turned away.
    expect(await h.run(`login ${h.token()}`)).toEqual([
      'error: login is locked out for 5m 00s more (wrong tokens)',
    ]);
    expect((await h.run('status')).find((l) => l.startsWith('login:'))).toBe(
      'login:     locked out for 5m 00s (wrong tokens)',
    );
    expect(auditTypes(h).filter((t) => t === 'technician_login_refused')).toHaveLength(6);
    expect(auditTypes(h)).toContain('technician_lockout');

    await h.lock.powerCycle();
    h.reattach();
    await h.lock.advance(60_000);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^error: login is locked out for 4m 0\ds more/);
    await h.lock.advance(LOGIN_LOCKOUT_MS);
    expect((await h.run(`login ${h.token()}`))[0]).toMatch(/^logged in as technician/);
  });

  it('a lockout never outlasts 5 minutes when the clock jumps back (dead RTC)', async () => {
    const h = await ConsoleHarness.create();
    for (let i = 0; i < 5; i++) await h.run('login nope');
    h.lock.hal.rtc.loseBattery();
    await h.lock.firmware.manager.refreshClock();
    expect((await h.run('login nope'))[0]).toMatch(/^error: login is locked out for 5m 00s more/);
    await h.lock.advance(LOGIN_LOCKOUT_MS);
    expect((await h.run('login nope'))[0]).toMatch(/not a technician token .*; 4 attempts left/);
  });

  it('the session ends after 10 minutes idle, and when its token expires', async () => {
    const h = await ConsoleHarness.create();
    await h.login();
    await h.lock.advance(SESSION_IDLE_MS - 1000);
    await h.type('\x15');
    await h.lock.advance(SESSION_IDLE_MS - 1000);
    expect((await h.json('status')).login).toMatchObject({ technician: true });
    h.output = '';
    await h.lock.advance(SESSION_IDLE_MS);
    await h.idle();
    expect(h.output).toContain('session ended after 10 min idle: logged out\r\nlock-1> ');
    expect((await h.run('mode set vacation'))[0]).toMatch(/needs a technician login/);
    expect(
      h.lock.firmware.audit
        .latest(20)
        .some((r) => r.type === 'technician_logout' && r.data.reason === 'idle'),
    ).toBe(true);

    await h.login(5 * 60_000);
    for (let minute = 0; minute < 5; minute++) {
      await h.lock.advance(60_000);
      await h.type('\x15');
    }
    await h.idle();
    expect(h.output).toContain('technician token expired: logged out\r\nlock-1> ');
    expect(h.output.slice(h.output.indexOf('technician token expired'))).not.toContain('lock-1#');
  });

  it('untrusted clock: login judged against the last trusted time; time set trusts the clock again', async () => {
    const start = Date.UTC(2025, 10, 25, 9, 0, 0);
    const h = await ConsoleHarness.create({ startEpochMs: start, config: { timezone: 'Europe/Berlin' } });
    const token = h.token();
    h.lock.hal.rtc.loseBattery();
    await h.lock.firmware.manager.refreshClock();
    expect((await h.run(`login ${token}`))[0]).toMatch(
      /^logged in as technician until 2025-11-25 12:00:00 GMT\+1/,
    );
    expect((await h.run('time set 2025-11-25 10:05'))[0]).toBe(
      'time set to 2025-11-25 10:05:00 GMT+1 (Europe/Berlin); clock trusted (was untrusted: rtc_lost_power)',
    );
    expect(h.lock.firmware.manager.status().clockTrusted).toBe(true);
    expect(h.lock.firmware.clock.snapshot().lastSyncSource).toBe('technician');
    expect((await h.run('time')).find((l) => l.startsWith('last sync:'))).toBe(
      'last sync:  2025-11-25T09:05:00Z by technician',
    );
    expect((await h.run('time set 1999-01-01T00:00:00Z'))[0]).toBe(
      'error: time must be between 2020 and 2099',
    );
    expect((await h.run('time set tomorrow'))[0]).toMatch(/^error: time must be ISO-8601/);
    const actions = h.lock.firmware.audit.latest(50).filter((row) => row.type === 'technician_action');
    expect(actions.map((row) => row.data.action)).toEqual(['time_set']);
    expect(actions[0]!.data).toMatchObject({
      to: '2025-11-25T09:05:00Z',
      was_trusted: false,
      token_id: expect.any(String),
    });
  });

  it('mode set, codes disable: thin calls into the lock, audited', async () => {
    const h = await ConsoleHarness.create();
    const added = h.lock.firmware.admin.add(
      { name: 'guest', pin: '2468' },
      'test',
      h.lock.firmware.manager.wallNow(),
    );
    if (!added.ok) throw new Error(added.message);
    await h.login();
    expect(await h.run('mode set vacation')).toEqual(['mode: vacation (was normal)']);
    expect(h.lock.firmware.manager.getSettings().mode).toBe('vacation');
    expect((await h.run('mode set holiday'))[0]).toBe(
      'error: MODE must be one of normal, vacation, privacy, passage',
    );
    expect(await h.run(`codes disable ${added.code.id}`)).toEqual([`disabled code ${added.code.id} "guest"`]);
    expect(h.lock.firmware.codes.get(added.code.id)!.enabled).toBe(false);
    expect(await h.run('codes disable 999')).toEqual(['error: no code with id 999']);
    const rows = h.lock.firmware.audit.latest(50);
    expect(rows.find((r) => r.type === 'mode_changed')!.data).toMatchObject({
      from: 'normal',
      to: 'vacation',
      by: 'technician',
    });
    expect(rows.find((r) => r.type === 'code_disabled')!.data).toMatchObject({ by: 'technician' });
    expect(rows.filter((r) => r.type === 'technician_action').map((r) => r.data.action)).toEqual([
      'mode_set',
      'codes_disable',
    ]);
  });

  it('relay unlock and lock report the end-stop; a jammed motor is reported as jammed', async () => {
    const h = await ConsoleHarness.create({ travelMs: 400 });
    await h.login();
    expect(await h.run('relay unlock')).toEqual(['unlocked after 400 ms; relocks after 5 s']);
    expect(await h.run('relay lock')).toEqual(['locked after 400 ms']);
    h.lock.hal.actuator.jam();
    expect(await h.run('relay unlock')).toEqual([
      'error: jammed: the bolt did not reach unlocked in 2 attempts of 3000 ms; check bolt and strike for obstruction, then try again',
    ]);
    expect(h.lock.firmware.manager.status().lock).toBe('jammed');
    expect(auditTypes(h)).toContain('jammed');
    h.lock.hal.actuator.unjam();
    expect(await h.run('relay lock')).toEqual(['locked after 0 ms']);
    expect(await h.run('relay lock')).toEqual(['already locked (the end-stop says locked)']);
    const actions = h.lock.firmware.audit
      .latest(100)
      .filter((r) => r.type === 'technician_action')
      .map((r) => r.data.action);
    expect(actions).toEqual(['relay_unlock', 'relay_lock', 'relay_unlock', 'relay_lock', 'relay_lock']);
  });

  it('factory-reset asks for confirm; then erases codes, offline state, mode and lockouts, keeps key and audit', async () => {
    const h = await ConsoleHarness.create();
    const { firmware } = h.lock;
    firmware.admin.add({ name: 'a', pin: '1357' }, 'test', firmware.manager.wallNow());
    firmware.admin.add({ name: 'b', pin: '2468' }, 'test', firmware.manager.wallNow());
    await h.login();
    await h.run('mode set privacy');
    for (let i = 0; i < 5; i++) await h.lock.press('0000#');
    expect(firmware.manager.status().lockout.active).toBe(true);
    const secret = Buffer.from(firmware.secret).toString('hex');
    const rowsBefore = firmware.audit.lastSeq();

    expect((await h.run('factory-reset'))[0]).toMatch(
      /^error: factory-reset erases every code.*type: factory-reset confirm$/,
    );
    expect(firmware.codes.count()).toBe(2);
    expect(await h.run('factory-reset confirm')).toEqual([
      'factory reset done: 2 codes erased, mode normal (was privacy), lockouts cleared.',
      'Offline codes now use key version 2: the gateway must issue new ones.',
    ]);
    expect(firmware.codes.count()).toBe(0);
    expect(firmware.manager.getSettings().mode).toBe('normal');
    expect(firmware.manager.status().lockout).toMatchObject({ active: false, consecutiveFailures: 0 });
    expect(firmware.state.get('lockout', { remainingMs: 1 }).remainingMs).toBe(0);
    expect(Buffer.from(firmware.secret).toString('hex')).toBe(secret);
    expect(firmware.audit.verify()).toMatchObject({ ok: true });
    expect(firmware.audit.lastSeq()).toBeGreaterThan(rowsBefore);
    expect(firmware.audit.latest(10).find((r) => r.type === 'factory_reset')!.data).toMatchObject({
      by: 'technician',
      codes_removed: 2,
      offline_key_to: 2,
      previous_mode: 'privacy',
    });
    // The reset survives a reboot (the state store agrees with the manager).
    await h.lock.powerCycle();
    expect(h.lock.firmware.manager.status()).toMatchObject({ mode: 'normal', lockout: { active: false } });
  });
});
