import { describe, expect, it } from 'vitest';
import type { DiagLink } from '../../firmware/diag/context.ts';
import { ConsoleHarness } from './harness.ts';

/** Tuesday 2025-11-25 12:03 in Berlin (CET, UTC+1). */
const TUE_1203_BERLIN = Date.UTC(2025, 10, 25, 11, 3, 0);
const BERLIN = { timezone: 'Europe/Berlin' };

function addCode(h: ConsoleHarness, spec: Record<string, unknown>): number {
  const result = h.lock.firmware.admin.add(spec, 'test', h.lock.firmware.manager.wallNow());
  if (!result.ok) throw new Error(result.message);
  return result.code.id;
}

describe('console: read-only commands (in-process, virtual time)', () => {
  it('greets with a banner and a prompt', async () => {
    const h = await ConsoleHarness.create();
    expect(h.output).toMatch(
      /Tumbler lock lock-1: diagnostics console, firmware \S+\. Type help or \? for commands\.\r\nlock-1> $/,
    );
  });

  it('status: lock, mode, door, clock, mqtt, outbox, lockout, login, uptime, versions', async () => {
    const h = await ConsoleHarness.create();
    await h.lock.advance(3_725_000);
    const lines = await h.run('status');
    expect(lines.map((line) => line.split(':')[0])).toEqual([
      'lock',
      'mode',
      'door',
      'clock',
      'mqtt',
      'outbox',
      'storage',
      'lockout',
      'login',
      'uptime',
      'versions',
    ]);
    expect(lines).toContain('lock:      locked');
    expect(lines.find((l) => l.startsWith('storage:'))).toMatch(
      /^storage: {3}writable; audit log rows 1-\d+$/,
    );
    expect(lines).toContain('mqtt:      not configured');
    expect(lines).toContain('uptime:    1h 02m 05s');
    expect(lines.find((l) => l.startsWith('clock:'))).toMatch(
      /^clock: +trusted, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(UTC\)$/,
    );
    const json = await h.json('status');
    expect(json).toMatchObject({
      ok: true,
      command: 'status',
      device_id: 'lock-1',
      lock: 'locked',
      mode: 'normal',
      door: 'closed',
      clock: { trusted: true, untrusted_reason: null },
      mqtt: { configured: false },
      storage: { writable: true, full: false, failed_writes: 0, audit_checkpoint_seq: 0 },
      lockout: { active: false, consecutive_failures: 0 },
      login: { technician: false, locked_out: false },
      uptime_s: 3725,
      versions: { hal: 'sim', schema: expect.any(Number), firmware: expect.any(String) },
    });
  });

  it('status shows a keypad lockout and a jammed lock in plain words', async () => {
    const h = await ConsoleHarness.create();
    for (let i = 0; i < 5; i++) await h.lock.press('9999#');
    const lines = await h.run('status');
    expect(lines.find((l) => l.startsWith('lockout:'))).toMatch(
      /ACTIVE until \d\d:\d\d:\d\d \(30s left\); every code is refused/,
    );
    h.lock.hal.actuator.jam();
    await h.lock.firmware.manager.actuate('unlocked', 'technician');
    await h.lock.advance(10_000);
    expect((await h.run('status'))[0]).toMatch(/^lock: +jammed \(the bolt did not reach its end-stop/);
  });

  it('status and selftest report the MQTT link when there is one, masking credentials', async () => {
    let connected = true;
    const link: DiagLink = {
      status: () => ({
        connected,
        broker: 'mqtts://lock-1:s3cret@gw.example:8883',
        outboxDepth: 3,
        ...(connected ? {} : { lastError: 'ECONNREFUSED' }),
      }),
      probe: async () => connected,
    };
    const h = await ConsoleHarness.create({ link });
    let lines = await h.run('status');
    expect(lines).toContain('mqtt:      connected to mqtts://***@gw.example:8883');
    expect(lines).toContain('outbox:    3 events waiting for the gateway');
    expect(lines.join('\n')).not.toContain('s3cret');
    expect((await h.run('selftest')).find((l) => l.startsWith('broker:'))).toMatch(
      /pass +the broker answers/,
    );
    connected = false;
    lines = await h.run('status');
    expect(lines).toContain(
      'mqtt:      DISCONNECTED from mqtts://***@gw.example:8883 (last error: ECONNREFUSED)',
    );
    const selftest = await h.run('selftest');
    expect(selftest.find((l) => l.startsWith('broker:'))).toMatch(
      /fail +the broker does not answer \(last error: ECONNREFUSED\)/,
    );
    expect(selftest.at(-1)).toBe('error: selftest: 4 passed, 1 failed, 0 skipped (broker)');
    expect((await h.run('config')).join('\n')).not.toContain('s3cret');
  });

  it('codes: names, kinds, windows, status and uses; never PINs', async () => {
    const h = await ConsoleHarness.create({ startEpochMs: TUE_1203_BERLIN, config: BERLIN });
    addCode(h, {
      name: 'cleaner',
      pin: '4711',
      kind: 'recurring',
      schedule: { days: ['tue', 'thu'], from: '10:00', to: '12:00' },
    });
    addCode(h, {
      name: 'guest-anna',
      pin: '052816',
      kind: 'time_bound',
      starts_at: '2025-11-01T12:00:00+01:00',
      ends_at: '2025-11-08T10:00:00+01:00',
    });
    addCode(h, { name: 'courier', pin: '8642', kind: 'ongoing', max_uses: 5 });
    await h.lock.press('8642#');
    const lines = await h.run('codes');
    const text = lines.join('\n');
    for (const pin of ['4711', '052816', '8642']) expect(text).not.toContain(pin);
    expect(lines[0]).toMatch(/^\s+id\s+name\s+kind\s+role\s+status\s+uses\s+window$/);
    expect(lines.find((l) => l.includes('cleaner'))).toMatch(
      /recurring\s+standard\s+active\s+0\s+Tue,Thu 10:00-12:00 Europe\/Berlin \(outside its slot now\)/,
    );
    expect(lines.find((l) => l.includes('guest-anna'))).toMatch(
      /time_bound\s+standard\s+expired\s+0\s+2025-11-01 12:00 \.\. 2025-11-08 10:00 Europe\/Berlin/,
    );
    expect(lines.find((l) => l.includes('courier'))).toMatch(/ongoing\s+standard\s+active\s+1\/5/);
    expect(lines.at(-1)).toBe('offline codes: key version 1; 0 in use, 0 revoked');
    const json = await h.json('codes');
    expect(JSON.stringify(json)).not.toMatch(/4711|052816|8642|pin/);
    expect((json.codes as Array<Record<string, unknown>>).map((c) => [c.name, c.status, c.in_slot])).toEqual([
      ['cleaner', 'active', false],
      ['guest-anna', 'expired', null],
      ['courier', 'active', null],
    ]);
  });

  it('why: the last decisions in plain words, in the lock time zone', async () => {
    const h = await ConsoleHarness.create({ startEpochMs: TUE_1203_BERLIN, config: BERLIN });
    addCode(h, {
      name: 'cleaner',
      pin: '4711',
      kind: 'recurring',
      schedule: { days: ['tue'], from: '10:00', to: '12:00' },
    });
    addCode(h, {
      name: 'guest-anna',
      pin: '052816',
      kind: 'time_bound',
      starts_at: '2025-11-01T12:00:00+01:00',
      ends_at: '2025-11-08T10:00:00+01:00',
    });
    addCode(h, { name: 'courier', pin: '8642' });
    expect(await h.run('why')).toEqual(['no decisions yet']);
    await h.lock.press('4711#');
    await h.lock.press('052816#');
    await h.lock.press('1111#');
    await h.lock.press('12#');
    await h.lock.press('8642#');
    const lines = await h.run('why');
    expect(lines).toEqual([
      '12:03 code "cleaner" refused: outside_schedule (Tue 10:00-12:00 Europe/Berlin; now Tue 12:03)',
      '12:03 code "guest-anna" refused: expired (valid 2025-11-01 12:00 to 2025-11-08 10:00 Europe/Berlin)',
      '12:03 entry refused: unknown_code (no code has this PIN)',
      '12:03 entry refused: malformed (not 4-10 digits (nor an offline code))',
      '12:03 code "courier" opened',
    ]);
    expect(await h.run('why 2')).toEqual(lines.slice(-2));
    const json = await h.json('why 1');
    expect(json).toMatchObject({
      ok: true,
      command: 'why',
      timezone: 'Europe/Berlin',
      decisions: [
        {
          outcome: 'granted',
          reason: null,
          code_name: 'courier',
          clock_trusted: true,
          source: 'keypad',
          text: '12:03 code "courier" opened',
        },
      ],
    });
    expect(JSON.stringify(json)).not.toMatch(/4711|052816|8642|1111/);
    // A day later the time carries the weekday.
    await h.lock.advance(86_400_000);
    expect((await h.run('why 1'))[0]).toBe('Tue 12:03 code "courier" opened');
    expect((await h.run('why 0'))[0]).toMatch(/^error: N must be a whole number from 1 to 100/);
  });

  it('events: the newest audit rows, any kind', async () => {
    const h = await ConsoleHarness.create();
    await h.lock.press('1234#');
    await h.lock.press('5678#');
    const lines = await h.run('events 3');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s+\d+\s+\d\d:\d\d:\d\d boot\s+mode=normal clock_trusted=true$/);
    expect(lines.at(-1)).toMatch(
      /decision\s+outcome=denied reason=unknown_code source=keypad clock_trusted=true/,
    );
    const json = await h.json('events 2');
    expect((json.events as Array<{ type: string }>).map((e) => e.type)).toEqual(['decision', 'decision']);
    expect(JSON.stringify(json)).not.toMatch(/1234|5678/);
  });

  it('time: RTC, trust, floor, last sync, zone and drift', async () => {
    const h = await ConsoleHarness.create({ startEpochMs: TUE_1203_BERLIN, config: BERLIN });
    let lines = await h.run('time');
    expect(lines).toEqual([
      'rtc:        2025-11-25T11:03:00Z (valid)',
      'lock time:  2025-11-25 12:03:00 GMT+1',
      'time zone:  Europe/Berlin',
      'trust:      trusted',
      'floor:      2025-11-25T11:03:00Z (latest trusted time seen)',
      'last sync:  never',
      'drift:      not enough data yet (observed 0s of 1h since start or the last time set)',
    ]);
    h.lock.hal.rtc.drift(50);
    await h.lock.advance(2 * 3_600_000);
    lines = await h.run('time');
    expect(lines.find((l) => l.startsWith('drift:'))).toMatch(
      /^drift: +\+50\.0 ppm ±138\.9 \(4\.32 s\/day; RTC against uptime over 2h 00m 00s\)$/,
    );
    const json = await h.json('time');
    expect(json).toMatchObject({
      trusted: true,
      timezone: 'Europe/Berlin',
      last_sync: null,
      drift: { ppm: 50 },
    });
  });

  it('time: an untrusted clock says why and how to fix it', async () => {
    const h = await ConsoleHarness.create();
    h.lock.hal.rtc.loseBattery();
    const lines = await h.run('time');
    expect(lines[0]).toMatch(/^rtc: +2000-01-01T00:00:\d\dZ \(LOST POWER\)$/);
    expect(lines[3]).toMatch(
      /^trust: +UNTRUSTED: the RTC lost power \(dead battery: its oscillator stopped\)\. Time-dependent codes are refused; login, then time set ISO/,
    );
    expect((await h.run('status')).find((l) => l.startsWith('clock:'))).toMatch(
      /UNTRUSTED: the RTC lost power \(battery\)/,
    );
    expect((await h.run('selftest')).find((l) => l.startsWith('rtc:'))).toMatch(
      /fail +reads 2000-01-01T00:00:\d\dZ with its lost-power flag set/,
    );
  });

  it('selftest: pass on a healthy board, never opening the door; a jammed motor fails the relay check', async () => {
    const h = await ConsoleHarness.create();
    const lines = await h.run('selftest');
    expect(lines.map((l) => l.split(':')[0])).toEqual([
      'relay',
      'keypad',
      'rtc',
      'database',
      'broker',
      'selftest',
    ]);
    expect(lines[0]).toMatch(
      /^relay: +pass +bolt locked; motor re-driven to locked, end-stop answered in \d+ ms$/,
    );
    expect(lines[3]).toMatch(
      /^database: +pass +quick_check ok; audit chain intact to its head \(\d+ rows to \d+\); storage writable$/,
    );
    expect(lines[4]).toMatch(/^broker: +skip +mqtt not configured$/);
    expect(lines[5]).toBe('selftest: 4 passed, 0 failed, 1 skipped');
    expect(h.lock.hal.actuator.drives.every((drive) => drive.target === 'locked')).toBe(true);
    expect(h.lock.firmware.manager.status().lock).toBe('locked');

    h.lock.hal.actuator.jam();
    const jammed = await h.run('selftest');
    expect(jammed[0]).toMatch(/^relay: +fail +no end-stop report for locked within 3000 ms: motor jammed/);
    expect(jammed.at(-1)).toBe('error: selftest: 3 passed, 1 failed, 1 skipped (relay)');
    expect(h.lock.hal.actuator.energisedToward()).toBeNull();
    const json = await h.json('selftest');
    expect(json).toMatchObject({ ok: false, error: 'selftest_failed', checks: expect.any(Array) });
  });

  it('keypad test: echoes keys (digits hidden without a login) until # is held', async () => {
    const h = await ConsoleHarness.create();
    h.output = '';
    h.console.input(Buffer.from('keypad test\r'));
    await h.idle();
    expect(h.output).toContain('keypad test: press keys; hold # (or press it twice) to finish');
    await h.lock.press('*');
    await h.lock.press('7');
    await h.lock.advance(200);
    await h.lock.press('#');
    await h.lock.advance(2000);
    await h.lock.press('#');
    await h.lock.advance(300);
    await h.lock.press('#');
    await h.idle();
    expect(h.output).toContain('key *\r\nkey digit\r\nkey #\r\nkey #\r\nkey #\r\n');
    expect(h.output).toContain('keypad test ended (# held): 5 keys: * digit # # #\r\nlock-1> ');
    expect(h.output).not.toContain('7');
  });

  it('keypad test: ends after SECONDS without a key, or on Ctrl-C; JSON streams one object a key', async () => {
    const h = await ConsoleHarness.create();
    const lines = await h.run('keypad test 5', { stepMs: 1000 });
    expect(lines.at(-1)).toBe('keypad test ended (no key for 5 s): 0 keys');
    h.output = '';
    h.console.input(Buffer.from('keypad test --json\r'));
    await h.idle();
    await h.lock.press('*');
    await h.type('\x03');
    const json = h.output
      .split('\r\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(json).toEqual([
      { ok: true, event: 'keypad_test_started', idle_s: 30, named_keys: false },
      { ok: true, event: 'key', key: '*' },
      { ok: false, command: 'keypad test', error: 'interrupted', message: 'interrupted' },
    ]);
    expect(h.output.endsWith('lock-1> ')).toBe(true);
  });

  it('log level, config (secrets masked), version', async () => {
    const h = await ConsoleHarness.create();
    expect(await h.run('log level')).toEqual(['log level: silent']);
    expect((await h.run('log level debug'))[0]).toMatch(
      /^error: changing the log level needs a technician login/,
    );
    const config = await h.run('config');
    expect(config).toContain('timezone                     UTC');
    expect(config.find((l) => l.startsWith('deviceKey'))).toBe(
      'deviceKey                    *** (set; never shown)',
    );
    const secretHex = Buffer.from(h.lock.firmware.secret).toString('hex');
    expect(config.join('\n')).not.toContain(secretHex);
    expect((await h.json('config')).device_key).toBe('***');
    expect((await h.run('version'))[0]).toMatch(
      /^tumbler firmware \S+, schema \d+, node v\d+\.\d+\.\d+, hal sim, device lock-1$/,
    );
  });

  it('help, ?, help CMD; unknown commands with suggestions; command words ignore case', async () => {
    const h = await ConsoleHarness.create();
    const help = await h.run('help');
    expect(help[0]).toBe('Read-only commands (anyone with the cable):');
    for (const name of [
      'status',
      'codes',
      'why [N]',
      'events [N]',
      'time',
      'selftest',
      'keypad test',
      'log level',
      'config',
      'version',
      'time set ISO',
      'mode set MODE',
      'relay unlock',
      'codes disable ID',
      'factory-reset',
      'login',
      'logout',
      'json',
    ]) {
      expect(help.some((line) => line.startsWith(`  ${name}`))).toBe(true);
    }
    expect(await h.run('?')).toEqual(help);
    expect((await h.run('help time set'))[0]).toBe(
      'usage: time set ISO [--backward]   (technician: login first)',
    );
    expect((await h.run('help nope'))[0]).toBe('error: no command "nope"; type help for the list');
    expect(await h.run('frobnicate')).toEqual([
      'error: unknown command "frobnicate"; type help for the list',
    ]);
    expect(await h.run('keypad')).toEqual(['error: unknown command "keypad"; did you mean: keypad test?']);
    expect(await h.run('STATUS')).toHaveLength(11);
    expect(await h.run('status extra')).toEqual(['error: unexpected argument "extra" (usage: status)']);
    expect(await h.run('')).toEqual([]);
  });

  it('Tab completes command words and arguments', async () => {
    const h = await ConsoleHarness.create();
    h.output = '';
    await h.type('sta\t');
    expect(h.output).toContain('status ');
    await h.type('\x15mode s\t');
    expect(h.output).toContain('mode set ');
    await h.type('va\t');
    expect(h.output).toContain('vacation ');
    await h.type('\x15s\t\t');
    expect(h.output).toContain('selftest  status');
  });

  it('JSON mode: json on makes every answer one JSON object a line; errors carry ok:false', async () => {
    const h = await ConsoleHarness.create();
    expect(await h.run('json on')).toEqual(['json mode on']);
    for (const command of [
      'status',
      'codes',
      'why',
      'events',
      'time',
      'selftest',
      'log level',
      'config',
      'version',
      'help',
      'help why',
      'json',
    ]) {
      const lines = await h.run(command);
      expect(lines, command).toHaveLength(1);
      const answer = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(answer.ok, command).toBe(true);
      expect(typeof answer.command).toBe('string');
    }
    for (const command of ['nope', 'why x', 'mode set vacation', 'logout now']) {
      const answer = JSON.parse((await h.run(command))[0]!) as Record<string, unknown>;
      expect(answer.ok, command).toBe(false);
      expect(answer).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
    expect(JSON.parse((await h.run('json off'))[0]!)).toEqual({ ok: true, command: 'json', json: false });
    expect(await h.run('version')).toHaveLength(1);
    expect((await h.run('version'))[0]!.startsWith('{')).toBe(false);
  });
});
