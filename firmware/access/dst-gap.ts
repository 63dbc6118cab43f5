import { DateTime } from 'luxon';
import { localWallTimeToInstant, parseClockTime } from './schedule.ts';
import { WEEKDAYS, type WeeklySchedule } from './types.ts';

const DAY_MS = 86_400_000;
/** How far ahead a warning looks for a slot the clocks skip. */
const HORIZON_MS = 366 * DAY_MS;

export interface ScheduledWindow {
  schedule: WeeklySchedule | null;
  startsAt: number | null;
  endsAt: number | null;
}

const yearCache = new Map<string, DateTime[]>();

/** Local days of a (UTC) year on which the zone's offset changes, memoised per zone and year. */
function transitionDaysOfYear(zone: string, year: number): DateTime[] {
  const key = `${zone}|${year}`;
  const cached = yearCache.get(key);
  if (cached) return cached;
  const offsetAt = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
  const days: DateTime[] = [];
  const yearEnd = Date.UTC(year + 1, 0, 1);
  // Offsets change a few times a year at most: compare weekly, then find the day. A day
  // counts when its offset differs from the previous day's end (a gap at midnight too).
  for (let weekStart = Date.UTC(year, 0, 1); weekStart < yearEnd; weekStart += 7 * DAY_MS) {
    const weekEnd = Math.min(weekStart + 7 * DAY_MS, yearEnd);
    if (offsetAt(weekStart) === offsetAt(weekEnd)) continue;
    for (
      let day = DateTime.fromMillis(weekStart, { zone }).startOf('day');
      day.toMillis() < weekEnd;
      day = day.plus({ days: 1 })
    ) {
      const seen = days.at(-1)?.hasSame(day, 'day');
      if (!seen && offsetAt(day.toMillis() - 1) !== day.endOf('day').offset) days.push(day);
    }
  }
  if (yearCache.size > 256) yearCache.clear();
  yearCache.set(key, days);
  return days;
}

/** Local days in [from, until) on which the zone's offset changes. */
function transitionDays(zone: string, from: number, until: number): DateTime[] {
  const days: DateTime[] = [];
  const lastYear = new Date(until).getUTCFullYear();
  for (let year = new Date(from).getUTCFullYear(); year <= lastYear; year++) {
    for (const day of transitionDaysOfYear(zone, year)) {
      if (day.endOf('day').toMillis() >= from && day.toMillis() < until) days.push(day);
    }
  }
  return days;
}

/**
 * A warning when a weekly slot lies wholly inside a spring-forward gap on some day it
 * applies (within the code's window, up to a year ahead): its wall times do not exist
 * that day, both edges move to the end of the gap, and the code cannot open then.
 * Null when every slot has time in it. A slot that only overlaps a gap is shortened,
 * as docs/access-rules.md says, without a warning.
 */
export function dstGapWarning(window: ScheduledWindow, zone: string, now: number): string | null {
  const { schedule } = window;
  if (!schedule) return null;
  const from = parseClockTime(schedule.from);
  const to = parseClockTime(schedule.to);
  // A slot past midnight is longer than any gap.
  if (from === undefined || to === undefined || to <= from) return null;
  const start = Math.max(now, window.startsAt ?? now);
  const until = Math.min(window.endsAt ?? Number.POSITIVE_INFINITY, start + HORIZON_MS);
  const skipped: string[] = [];
  for (const day of transitionDays(zone, start, until)) {
    if (!schedule.days.includes(WEEKDAYS[day.weekday - 1]!)) continue;
    const slotStart = localWallTimeToInstant(zone, day.year, day.month, day.day, from, 'start');
    const slotEnd = localWallTimeToInstant(zone, day.year, day.month, day.day, to, 'end');
    if (slotEnd <= slotStart) skipped.push(day.toISODate()!);
  }
  if (skipped.length === 0) return null;
  return `the slot ${schedule.from}-${schedule.to} lies in a daylight-saving gap in ${zone} on ${skipped.join(', ')}: those wall times do not exist, so the code does not open that day`;
}
