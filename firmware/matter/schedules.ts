import { localWallTimeToInstant } from '../access/schedule.ts';
import type { CodeKind, Weekday, WeeklySchedule } from '../access/types.ts';
import type { CodeTiming } from '../store/codes.ts';

/**
 * A Matter week-day schedule (SetWeekDaySchedule) as the lock keeps it: Matter's own fields,
 * so GetWeekDaySchedule answers exactly what was set.
 */
export interface WeekDaySchedule {
  /** Bit 0 Sunday ... bit 6 Saturday (DaysMaskBitmap). */
  daysMask: number;
  startHour: number;
  startMinute: number;
  endHour: number;
  endMinute: number;
}

/**
 * A Matter year-day schedule: local wall times (the lock's zone) written as epoch seconds. On the
 * wire they count from 2000-01-01 (Matter's epoch-s); matter.js hands them over, and the lock
 * keeps them, as Unix seconds.
 */
export interface YearDaySchedule {
  localStartTime: number;
  localEndTime: number;
}

/** Each user has at most one of each (NumberOf...SchedulesSupportedPerUser): one Tumbler code has one schedule and one window. */
export const SCHEDULES_PER_USER = 1;

// DaysMaskBitmap's bit order: Sunday first.
const MASK_DAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Matter's epoch-s: 32 bits counting from 2000-01-01, here as Unix seconds. */
const EPOCH_S_MIN = Date.UTC(2000, 0, 1) / 1000;
const EPOCH_S_MAX = EPOCH_S_MIN + 0xffff_ffff;

const pad = (n: number) => String(n).padStart(2, '0');

/** Why a week-day schedule is malformed (INVALID_COMMAND), or undefined when it is a schedule. */
export function weekDayProblem(s: WeekDaySchedule): string | undefined {
  const whole = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  if (!whole(s.daysMask, 0x7f) || s.daysMask === 0) return 'DaysMask must name at least one day';
  if (!whole(s.startHour, 23) || !whole(s.endHour, 23)) return 'hours must be 0-23';
  if (!whole(s.startMinute, 59) || !whole(s.endMinute, 59)) return 'minutes must be 0-59';
  if (s.endHour * 60 + s.endMinute <= s.startHour * 60 + s.startMinute)
    return 'the end must be later than the start on the same day';
  return undefined;
}

/** Why a year-day schedule is malformed (INVALID_COMMAND), or undefined. */
export function yearDayProblem(s: YearDaySchedule): string | undefined {
  const whole = (n: number) => Number.isInteger(n) && n >= EPOCH_S_MIN && n <= EPOCH_S_MAX;
  if (!whole(s.localStartTime) || !whole(s.localEndTime)) return 'times must be epoch seconds from 2000 on';
  if (s.localEndTime <= s.localStartTime) return 'LocalEndTime must be later than LocalStartTime';
  return undefined;
}

/**
 * The weekly slot of a week-day schedule. Matter's end 23:59 grants "up until 23:59:59", which
 * is Tumbler's 24:00; every other end is the minute access ends.
 */
export function weeklyScheduleOf(s: WeekDaySchedule): WeeklySchedule {
  const days = MASK_DAYS.filter((_, bit) => (s.daysMask & (1 << bit)) !== 0);
  // Tumbler lists days Monday first.
  const order: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const to = s.endHour === 23 && s.endMinute === 59 ? '24:00' : `${pad(s.endHour)}:${pad(s.endMinute)}`;
  return {
    days: order.filter((day) => days.includes(day)),
    from: `${pad(s.startHour)}:${pad(s.startMinute)}`,
    to,
  };
}

/** A local wall time written as epoch seconds, as an instant in `zone` (the DST rules of docs/access-rules.md). */
export function instantOfLocal(epochSeconds: number, zone: string, edge: 'start' | 'end'): number {
  const naive = new Date(epochSeconds * 1000);
  const minutes = naive.getUTCHours() * 60 + naive.getUTCMinutes();
  return (
    localWallTimeToInstant(
      zone,
      naive.getUTCFullYear(),
      naive.getUTCMonth() + 1,
      naive.getUTCDate(),
      minutes,
      edge,
    ) +
    naive.getUTCSeconds() * 1000
  );
}

/**
 * When a Matter user's code opens: its user type's kind (`ongoing` or `one_time`) restricted by
 * its schedules. Both must hold when a user has both (Matter's ScheduleRestrictedUser rule): a
 * week-day schedule makes the code `recurring`, a year-day schedule gives it a window
 * (`time_bound`, or the window of a `recurring` or `one_time` code). A disposable user with a
 * week-day schedule is `recurring` with a use limit of one, Tumbler's form of a one-time code
 * that keeps a weekly schedule.
 */
export function codeTimingFor(
  base: Extract<CodeKind, 'ongoing' | 'one_time'>,
  weekDay: WeekDaySchedule | null,
  yearDay: YearDaySchedule | null,
  zone: string,
): CodeTiming {
  const startsAt = yearDay ? instantOfLocal(yearDay.localStartTime, zone, 'start') : null;
  const endsAt = yearDay ? instantOfLocal(yearDay.localEndTime, zone, 'end') : null;
  if (weekDay)
    return {
      kind: 'recurring',
      startsAt,
      endsAt,
      schedule: weeklyScheduleOf(weekDay),
      maxUses: base === 'one_time' ? 1 : null,
    };
  const kind: CodeKind = base === 'one_time' ? 'one_time' : yearDay ? 'time_bound' : 'ongoing';
  return { kind, startsAt, endsAt, schedule: null, maxUses: null };
}
