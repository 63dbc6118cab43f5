import { afterEach, describe, expect, it } from 'vitest';
import type { OfflineRequest } from '../../firmware/access/offline-issue.ts';
import type { LogControl } from '../../firmware/log.ts';
import {
  issueForLock,
  listOfflineCodes,
  offlineKeyVersion,
  revokeOfflineCode,
} from '../../firmware/offline-path.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';

/** The real firmware on the simulated board, virtual time: offline codes end to end. */

const ZONE = 'Europe/Berlin';
const START = Date.parse('2026-06-10T10:00:00Z');
const HOUR = 3_600_000;

const locks: SimLock[] = [];
afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.close();
});

async function boot(): Promise<{ lock: SimLock; logs: string[] }> {
  const logs: string[] = [];
  const log: LogControl = { level: 'debug', sink: { write: (line) => logs.push(line) } };
  const lock = await SimLock.create({ startEpochMs: START + 30 * 60_000, config: { timezone: ZONE }, log });
  locks.push(lock);
  return { lock, logs };
}

function issue(lock: SimLock, request: OfflineRequest) {
  return issueForLock(lock.firmware, request, {
    timezone: ZONE,
    now: lock.hal.rtc.peek().epochMs,
    length: lock.firmware.config.offlineCodeLength,
  });
}

async function type(lock: SimLock, code: string): Promise<string> {
  await lock.press(`${code}#`);
  const decision = lock.firmware.manager.status().lastDecision!.decision;
  return decision.outcome === 'granted' ? 'granted' : decision.reason;
}

/** Lets the bolt open and relock (auto-relock 5 s by default). */
const relock = (lock: SimLock) => lock.advance(10_000);

describe('offline codes through the firmware (sim HAL)', () => {
  it('an hourly code opens, keeps opening inside its window, then stops', async () => {
    const { lock, logs } = await boot();
    const code = issue(lock, { kind: 'hourly', start: START, hours: 3 });
    expect(await type(lock, code.code)).toBe('granted');
    expect(lock.firmware.manager.status().lastDecision!.decision.code).toMatchObject({
      name: `offline:${code.fingerprint}`,
      kind: 'offline',
    });
    await lock.advance(1000);
    expect(lock.firmware.manager.status().lock).toMatch(/unlocking|unlocked/);
    await relock(lock);
    await lock.advance(2 * HOUR);
    expect(await type(lock, code.code)).toBe('granted');
    await lock.advance(HOUR);
    expect(await type(lock, code.code)).toBe('expired');
    // Digits never reach the log or the audit.
    const audit = JSON.stringify(lock.firmware.audit.latest(100));
    for (const text of [logs.join(''), audit]) {
      expect(text).not.toContain(code.code);
      expect(text).not.toContain(code.code.slice(6));
    }
    expect(audit).toContain(`offline:${code.fingerprint}`);
  });

  it('a one_time code opens once, also when power is cut while the bolt moves', async () => {
    const { lock } = await boot();
    const code = issue(lock, { kind: 'one_time', start: START });
    await lock.press(`${code.code}#`);
    expect(lock.firmware.manager.status().lastDecision!.decision.outcome).toBe('granted');
    // Committed before the relay moved: cut the power mid-travel.
    await lock.powerCycle();
    expect(await type(lock, code.code)).toBe('used_up');
    await lock.powerCycle();
    await lock.advance(HOUR);
    expect(await type(lock, code.code)).toBe('used_up');
  });

  it('a wrong 12-digit entry is a wrong guess: it counts toward the lockout', async () => {
    const { lock } = await boot();
    expect(await type(lock, '123412341234')).toBe('unknown_code');
    expect(lock.firmware.manager.status().lockout.consecutiveFailures).toBe(1);
  });

  it('revocation by fingerprint while online refuses the code as revoked', async () => {
    const { lock } = await boot();
    const code = issue(lock, { kind: 'daily', start: '2026-06-10', days: 5 });
    expect(await type(lock, code.code)).toBe('granted');
    await relock(lock);
    revokeOfflineCode(
      lock.firmware,
      { fingerprint: code.fingerprint },
      { by: 'gateway', now: lock.hal.rtc.peek().epochMs },
    );
    expect(await type(lock, code.code)).toBe('revoked');
  });

  it('an erase code opens once and retires every earlier offline code', async () => {
    const { lock } = await boot();
    const guest = issue(lock, { kind: 'permanent', start: '2026-06-10' });
    const erase = issue(lock, { kind: 'erase', start: START });
    expect(await type(lock, guest.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, erase.code)).toBe('granted');
    await relock(lock);
    expect(offlineKeyVersion(lock.firmware)).toBe(2);
    expect(await type(lock, guest.code)).toBe('unknown_code');
    expect(await type(lock, erase.code)).toBe('unknown_code');
    const next = issue(lock, { kind: 'permanent', start: '2026-06-10' });
    expect(await type(lock, next.code)).toBe('granted');
    expect(
      listOfflineCodes(lock.firmware, lock.hal.rtc.peek().epochMs).active.map((row) => row.fingerprint),
    ).toEqual([next.fingerprint]);
  });

  it('with an untrusted clock only an activated permanent code opens', async () => {
    const { lock } = await boot();
    const permanent = issue(lock, { kind: 'permanent', start: '2026-06-10' });
    const hourly = issue(lock, { kind: 'hourly', start: START, hours: 48 });
    expect(await type(lock, permanent.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, hourly.code)).toBe('granted');
    await relock(lock);
    const unused = issue(lock, { kind: 'daily', start: '2026-06-10', days: 3 });
    lock.hal.rtc.loseBattery();
    await lock.powerCycle();
    expect(lock.firmware.manager.status().clockTrusted).toBe(false);
    expect(await type(lock, permanent.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, hourly.code)).toBe('clock_untrusted');
    expect(await type(lock, unused.code)).toBe('clock_untrusted');
    expect(lock.firmware.manager.status().lockout.consecutiveFailures).toBe(0);
  });
});

describe('version 2 codes through the firmware (sim HAL): the lock takes both versions', () => {
  it('a 15-digit stay with check-in and check-out opens beside a 12-digit version 1 code', async () => {
    const { lock } = await boot();
    // The lock's clock: 2026-06-10 12:30 Berlin. A stay from 13:00 today to 11:00 in two days.
    const stay = issue(lock, {
      version: 2,
      kind: 'daily',
      start: '2026-06-10',
      checkIn: '13:00',
      checkOut: '11:00',
      days: 2,
    });
    const sameSlot = issue(lock, {
      version: 2,
      kind: 'daily',
      start: '2026-06-10',
      checkIn: '13:00',
      checkOut: '11:00',
      days: 2,
      variant: 1,
    });
    const v1 = issue(lock, { kind: 'hourly', start: START, hours: 3 });
    expect(stay.code).toHaveLength(15);
    expect(await type(lock, stay.code)).toBe('not_yet_active');
    await lock.advance(HOUR);
    expect(await type(lock, stay.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, v1.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, sameSlot.code)).toBe('granted');
    await relock(lock);
    // 2026-06-12 10:50 Berlin: still in; 11:10: checked out.
    await lock.advance(Date.parse('2026-06-12T08:50:00Z') - lock.hal.rtc.peek().epochMs);
    expect(await type(lock, stay.code)).toBe('granted');
    await relock(lock);
    await lock.advance(20 * 60_000);
    expect(await type(lock, stay.code)).toBe('expired');
  });

  it('one_time variants: each opens once; a wrong 15-digit entry is a wrong guess, 13 digits malformed', async () => {
    const { lock } = await boot();
    const [a, b] = [0, 4].map((variant) =>
      issue(lock, { version: 2, kind: 'one_time', start: START, variant }),
    );
    expect(await type(lock, a!.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, b!.code)).toBe('granted');
    await relock(lock);
    expect(await type(lock, a!.code)).toBe('used_up');
    expect(lock.firmware.manager.status().lockout.consecutiveFailures).toBe(0);
    const wrong = a!.code.slice(0, 14) + String((Number(a!.code[14]) + 1) % 10);
    expect(await type(lock, wrong)).toBe('unknown_code');
    expect(lock.firmware.manager.status().lockout.consecutiveFailures).toBe(1);
    expect(await type(lock, '1234567890123')).toBe('malformed');
  });
});
