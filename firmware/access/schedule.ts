import { DateTime } from 'luxon';
import { WEEKDAYS, type WeeklySchedule } from './types.ts';

const MINUTE = 60_000;

function offsetMinutes(epochMs: number, zone: string): number {
  return DateTime.fromMillis(epochMs, { zone }).offset;
}

/** Parses "HH:MM" (00:00-24:00) to minutes after midnight, or undefined. */
export function parseClockTime(text: string): number | undefined {
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return minutes <= 24 * 60 ? minutes : undefined;
}

/**
 * The instant a local wall time names, with the DST rules documented in
 * docs/access-rules.md:
 * - in the spring-forward gap (the wall time does not exist), the instant the gap
 *   ends (02:30 in Berlin on the last Sunday of March -> 03:00 CEST);
 * - in the fall-back overlap (the wall time happens twice), a slot's start takes the
 *   first occurrence and its end the second, so DST never shortens a slot.
 */
export function localWallTimeToInstant(
  zone: string,
  year: number,
  month: number,
  day: number,
  minutesAfterMidnight: number,
  edge: 'start' | 'end',
): number {
  const naive = Date.UTC(year, month - 1, day) + minutesAfterMidnight * MINUTE;
  const offsets = new Set([
    offsetMinutes(naive - 14 * 60 * MINUTE, zone),
    offsetMinutes(naive + 14 * 60 * MINUTE, zone),
  ]);
  const valid: number[] = [];
  for (const offset of offsets) {
    const candidate = naive - offset * MINUTE;
    if (offsetMinutes(candidate, zone) === offset) valid.push(candidate);
  }
  if (valid.length > 0) return edge === 'start' ? Math.min(...valid) : Math.max(...valid);
  // A gap: find the transition instant between the two candidate readings.
  const candidates = [...offsets].map((offset) => naive - offset * MINUTE);
  let low = Math.min(...candidates);
  let high = Math.max(...candidates);
  const lowOffset = offsetMinutes(low, zone);
  while (high - low > MINUTE) {
    const mid = Math.floor((low + high) / 2 / MINUTE) * MINUTE;
    if (offsetMinutes(mid, zone) === lowOffset) low = mid;
    else high = mid;
  }
  return high;
}

/**
 * A local date or date-time written without an offset ("2026-10-25T02:30",
 * "2026-12-01") as an instant in `zone`, by the rules of localWallTimeToInstant: the
 * one rule for every local time the lock reads (slot edges, offline-code starts).
 * Undefined when the text is not an ISO date or date-time. The caller has checked
 * that the text carries no offset (an instant is read as written).
 */
export function localDateTimeToInstant(
  text: string,
  zone: string,
  edge: 'start' | 'end',
): number | undefined {
  const fields = DateTime.fromISO(text, { zone: 'UTC' });
  if (!fields.isValid) return undefined;
  const minutes = fields.hour * 60 + fields.minute;
  return (
    localWallTimeToInstant(zone, fields.year, fields.month, fields.day, minutes, edge) +
    fields.second * 1000 +
    fields.millisecond
  );
}

export interface Slot {
  start: number;
  end: number;
}

/**
 * The slots that could contain `now` once each edge is widened by `graceMs`: every
 * slot starting on a local day from the day before `now - graceMs` to the day of
 * `now + graceMs`. A slot ends at most one local day after the one it starts on, so
 * none is missed, even when the widened edge falls on another local day.
 */
export function candidateSlots(schedule: WeeklySchedule, now: number, zone: string, graceMs = 0): Slot[] {
  const from = parseClockTime(schedule.from);
  const to = parseClockTime(schedule.to);
  if (from === undefined || to === undefined) return [];
  const last = DateTime.fromMillis(now + graceMs, { zone }).startOf('day');
  const slots: Slot[] = [];
  for (
    let day = DateTime.fromMillis(now - graceMs, { zone })
      .startOf('day')
      .minus({ days: 1 });
    day <= last;
    day = day.plus({ days: 1 })
  ) {
    const weekday = WEEKDAYS[day.weekday - 1]!;
    if (!schedule.days.includes(weekday)) continue;
    const start = localWallTimeToInstant(zone, day.year, day.month, day.day, from, 'start');
    const endDay = to > from ? day : day.plus({ days: 1 });
    const end = localWallTimeToInstant(zone, endDay.year, endDay.month, endDay.day, to, 'end');
    slots.push({ start, end });
  }
  return slots;
}

/** Whether `now` lies in a slot of the schedule, each edge widened by `graceMs`. */
export function withinSchedule(schedule: WeeklySchedule, now: number, zone: string, graceMs = 0): boolean {
  return candidateSlots(schedule, now, zone, graceMs).some(
    (slot) => now >= slot.start - graceMs && now < slot.end + graceMs,
  );
}

/** "Tue,Thu 10:00-12:00 Europe/Berlin", for technicians. */
export function describeSchedule(schedule: WeeklySchedule, zone: string): string {
  const days = schedule.days.map((day) => day[0]!.toUpperCase() + day.slice(1)).join(',');
  return `${days} ${schedule.from}-${schedule.to} ${zone}`;
}

export function isValidZone(zone: string): boolean {
  return typeof zone === 'string' && zone.length > 0 && DateTime.local().setZone(zone).isValid;
}
