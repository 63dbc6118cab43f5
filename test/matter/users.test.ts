import { describe, expect, it } from 'vitest';
import { factoryReset } from '../../firmware/diag/factory-reset.ts';
import { codeTimingFor, instantOfLocal, weeklyScheduleOf } from '../../firmware/matter/schedules.ts';
import { MatterUsers } from '../../firmware/matter/users.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { onCleanup } from '../helpers/tmp.ts';

// A local wall time as epoch seconds: how matter.js carries a YearDay schedule's times.
const matterLocal = (iso: string) => Date.parse(`${iso}Z`) / 1000;

const decide = async (lock: SimLock, pin: string) =>
  (await lock.firmware.manager.submitEntry(pin, 'keypad')).decision;

async function lockWithUsers(startEpochMs?: number) {
  const lock = await SimLock.create({
    travelMs: 0,
    config: { timezone: 'Europe/Berlin' },
    ...(startEpochMs !== undefined ? { startEpochMs } : {}),
  });
  onCleanup(() => lock.close());
  const users = new MatterUsers(lock.firmware, 10);
  const alice = {
    index: 1,
    name: 'Alice',
    uniqueId: null,
    enabled: true,
    type: 0 as const,
    creatorFabric: 1,
  };
  expect(users.addUser(alice).ok).toBe(true);
  return { lock, users };
}

describe('Matter users onto Tumbler codes', () => {
  it('a refused PIN change keeps the old PIN in place', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(admin.add({ name: 'other', pin: '2222' }, 'test', manager.wallNow()).ok).toBe(true);
    const before = codes.list();
    expect(users.replacePin(1, '2222', 1)).toMatchObject({ ok: false, error: 'duplicate' });
    expect(codes.list()).toEqual(before);
    expect(codes.findByPin('1111')?.name).toBe('Alice (Matter user 1) PIN 1');
    expect(users.findPin(1)?.slot.codeId).toBe(codes.findByPin('1111')?.id);
    expect(users.replacePin(1, '3333', 1).ok).toBe(true);
    expect(codes.findByPin('1111')).toBeUndefined();
    expect(users.findPin(1)?.slot.codeId).toBe(codes.findByPin('3333')?.id);
  });

  it('disabling a user disables its code; enabling it again is refused while its PIN is taken', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(users.modifyUser(1, { enabled: false }, 1).ok).toBe(true);
    expect(codes.list().map((c) => [c.name, c.enabled])).toEqual([['Alice (Matter user 1) PIN 1', false]]);
    expect(admin.add({ name: 'other', pin: '1111' }, 'test', manager.wallNow()).ok).toBe(true);
    expect(users.modifyUser(1, { enabled: true }, 1)).toMatchObject({ ok: false, error: 'duplicate' });
    expect(users.find(1)?.enabled).toBe(false);
    expect(codes.list().find((c) => c.name.startsWith('Alice'))?.enabled).toBe(false);
  });

  it('a code removed elsewhere leaves its slot empty, and user types map onto roles and kinds', async () => {
    const { lock, users } = await lockWithUsers();
    const { codes, admin, manager } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    admin.remove(codes.findByPin('1111')!.id, 'test', manager.wallNow());
    expect(users.find(1)?.pins).toEqual([]);
    expect(users.findPin(1)).toBeUndefined();
    for (const [index, type, role, kind] of [
      [2, 4, 'non_access', 'ongoing'],
      [3, 5, 'duress', 'ongoing'],
      [4, 6, 'standard', 'one_time'],
    ] as const) {
      expect(
        users.addUser({ index, name: '', uniqueId: null, enabled: true, type, creatorFabric: 1 }).ok,
      ).toBe(true);
      const added = users.addPin(index, index, `${index}${index}${index}${index}5`, 1);
      expect(added.ok && [added.code.role, added.code.kind]).toEqual([role, kind]);
    }
    expect(users.addPin(2, 9, '12a4', 1)).toMatchObject({ ok: false, error: 'invalid' });
  });
});

describe('Matter schedules onto Tumbler codes', () => {
  it('maps week-day and year-day schedules onto recurring and time-bound codes', () => {
    const weekDay = { daysMask: 0b0100010, startHour: 9, startMinute: 0, endHour: 11, endMinute: 30 }; // Mon, Fri
    expect(weeklyScheduleOf(weekDay)).toEqual({ days: ['mon', 'fri'], from: '09:00', to: '11:30' });
    // 23:59 grants up to 23:59:59: Tumbler's 24:00.
    expect(weeklyScheduleOf({ ...weekDay, daysMask: 1, endHour: 23, endMinute: 59 })).toEqual({
      days: ['sun'],
      from: '09:00',
      to: '24:00',
    });
    // Local wall time in the lock's zone, DST included: 2026-07-01 12:00 in Berlin is 10:00 UTC.
    expect(instantOfLocal(matterLocal('2026-07-01T12:00:00'), 'Europe/Berlin', 'start')).toBe(
      Date.parse('2026-07-01T10:00:00Z'),
    );
    const yearDay = {
      localStartTime: matterLocal('2026-07-01T00:00:00'),
      localEndTime: matterLocal('2026-07-08T00:00:00'),
    };
    const zone = 'Europe/Berlin';
    expect(codeTimingFor('ongoing', null, null, zone)).toEqual({
      kind: 'ongoing',
      startsAt: null,
      endsAt: null,
      schedule: null,
      maxUses: null,
    });
    expect(codeTimingFor('ongoing', null, yearDay, zone)).toMatchObject({
      kind: 'time_bound',
      startsAt: Date.parse('2026-06-30T22:00:00Z'),
      endsAt: Date.parse('2026-07-07T22:00:00Z'),
    });
    expect(codeTimingFor('ongoing', weekDay, yearDay, zone)).toMatchObject({
      kind: 'recurring',
      startsAt: Date.parse('2026-06-30T22:00:00Z'),
      schedule: { days: ['mon', 'fri'] },
      maxUses: null,
    });
    expect(codeTimingFor('one_time', weekDay, null, zone)).toMatchObject({ kind: 'recurring', maxUses: 1 });
    expect(codeTimingFor('one_time', null, yearDay, zone)).toMatchObject({ kind: 'one_time', maxUses: null });
  });

  it('a schedule reschedules the user’s code in place: same PIN, same use count, audited; a bad one changes nothing', async () => {
    // Wednesday 2026-07-01 10:00 in Berlin.
    const { lock, users } = await lockWithUsers(Date.parse('2026-07-01T08:00:00Z'));
    const { codes, audit } = lock.firmware;
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    const before = codes.findByPin('1111')!;
    expect(await decide(lock, '1111')).toMatchObject({ outcome: 'granted' });
    const wed = { daysMask: 1 << 3, startHour: 9, startMinute: 0, endHour: 11, endMinute: 0 };
    expect(users.setSchedule(1, 'weekDay', wed, 2)).toMatchObject({ ok: true });
    // get, not findByPin: a code without a limit has its uses read from the audit log.
    const rescheduled = codes.get(codes.findByPin('1111')!.id)!;
    expect(rescheduled).toMatchObject({
      id: before.id,
      kind: 'recurring',
      schedule: { days: ['wed'], from: '09:00', to: '11:00' },
      uses: 1,
    });
    expect(users.find(1)).toMatchObject({ weekDay: wed, lastModifiedFabric: 2 });
    expect(audit.latest(5).find((row) => row.type === 'code_rescheduled')?.data).toMatchObject({
      code_id: before.id,
      kind: 'recurring',
      by: 'matter',
    });
    expect(JSON.stringify(audit.latest(5))).not.toContain('1111');
    expect(await decide(lock, '1111')).toMatchObject({ outcome: 'granted' });
    // Thursday is outside the slot.
    const thu = { ...wed, daysMask: 1 << 4 };
    expect(users.setSchedule(1, 'weekDay', thu, 2)).toMatchObject({ ok: true });
    expect(await decide(lock, '1111')).toMatchObject({ outcome: 'denied', reason: 'outside_schedule' });

    // Malformed: end before start, no day, a window that ends before it starts: refused, nothing changes.
    const snapshot = codes.list();
    const rows = audit.lastSeq();
    for (const [kind, bad] of [
      ['weekDay', { ...wed, endHour: 8 }],
      ['weekDay', { ...wed, daysMask: 0 }],
      [
        'yearDay',
        {
          localStartTime: matterLocal('2026-07-02T00:00:00'),
          localEndTime: matterLocal('2026-07-01T00:00:00'),
        },
      ],
      ['yearDay', { localStartTime: 100, localEndTime: 200 }], // before 2000
      // Wholly inside the spring-forward gap in Berlin: no time left.
      [
        'yearDay',
        {
          localStartTime: matterLocal('2027-03-28T02:15:00'),
          localEndTime: matterLocal('2027-03-28T02:45:00'),
        },
      ],
    ] as const)
      expect(users.setSchedule(1, kind, bad, 2)).toMatchObject({ ok: false, error: 'invalid' });
    expect(users.setSchedule(9, 'weekDay', wed, 2)).toMatchObject({ ok: false, error: 'not_found' });
    expect(codes.list()).toEqual(snapshot);
    expect(audit.lastSeq()).toBe(rows);

    // Clearing the schedule makes it an ongoing code again; a year-day window makes it time-bound.
    expect(users.setSchedule(1, 'weekDay', null, 2)).toMatchObject({ ok: true });
    expect(codes.findByPin('1111')).toMatchObject({ id: before.id, kind: 'ongoing', schedule: null });
    const july = {
      localStartTime: matterLocal('2026-07-02T00:00:00'),
      localEndTime: matterLocal('2026-07-03T00:00:00'),
    };
    expect(users.setSchedule(1, 'yearDay', july, 2)).toMatchObject({ ok: true });
    expect(codes.findByPin('1111')).toMatchObject({ kind: 'time_bound' });
    expect(await decide(lock, '1111')).toMatchObject({ outcome: 'denied', reason: 'not_yet_active' });
  });

  it('a schedule set before the PIN restricts the PIN when it comes', async () => {
    const { lock, users } = await lockWithUsers();
    const mon = { daysMask: 1 << 1, startHour: 9, startMinute: 0, endHour: 17, endMinute: 0 };
    expect(users.setSchedule(1, 'weekDay', mon, 1).ok).toBe(true);
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(lock.firmware.codes.findByPin('1111')).toMatchObject({
      kind: 'recurring',
      schedule: { days: ['mon'], from: '09:00', to: '17:00' },
    });
  });

  it('the lock’s factory reset removes the Matter users and marks the fabrics for erasing', async () => {
    const { lock, users } = await lockWithUsers();
    expect(users.addPin(1, 1, '1111', 1).ok).toBe(true);
    expect(users.fabricsToErase()).toBe(false);
    await factoryReset(lock.firmware, 'technician');
    expect(users.list()).toEqual([]);
    expect(lock.firmware.codes.list()).toEqual([]);
    expect(users.fabricsToErase()).toBe(true);
    expect(lock.firmware.audit.latest(1)[0]?.data).toMatchObject({ matter_users_removed: 1 });
    users.fabricsErased();
    expect(users.fabricsToErase()).toBe(false);
  });
});
