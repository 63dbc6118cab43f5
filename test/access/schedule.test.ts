import { describe, expect, it } from 'vitest';
import { candidateSlots, localWallTimeToInstant, withinSchedule } from '../../firmware/access/schedule.ts';
import type { WeeklySchedule } from '../../firmware/access/types.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('local wall time to instant across DST', () => {
  it('Berlin spring-forward gap: 02:30 on 2026-03-29 maps to 03:00 CEST (01:00Z)', () => {
    expect(iso(localWallTimeToInstant('Europe/Berlin', 2026, 3, 29, 150, 'start'))).toBe(
      '2026-03-29T01:00:00.000Z',
    );
    expect(iso(localWallTimeToInstant('Europe/Berlin', 2026, 3, 29, 150, 'end'))).toBe(
      '2026-03-29T01:00:00.000Z',
    );
  });

  it('Berlin fall-back overlap: 02:30 on 2026-10-25 starts at the first and ends at the second occurrence', () => {
    expect(iso(localWallTimeToInstant('Europe/Berlin', 2026, 10, 25, 150, 'start'))).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    expect(iso(localWallTimeToInstant('Europe/Berlin', 2026, 10, 25, 150, 'end'))).toBe(
      '2026-10-25T01:30:00.000Z',
    );
  });

  it('New York spring-forward gap: 02:15 on 2026-03-08 maps to 03:00 EDT (07:00Z)', () => {
    expect(iso(localWallTimeToInstant('America/New_York', 2026, 3, 8, 135, 'start'))).toBe(
      '2026-03-08T07:00:00.000Z',
    );
  });

  it('New York fall-back overlap: 01:30 on 2026-11-01 happens at 05:30Z (EDT) and 06:30Z (EST)', () => {
    expect(iso(localWallTimeToInstant('America/New_York', 2026, 11, 1, 90, 'start'))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
    expect(iso(localWallTimeToInstant('America/New_York', 2026, 11, 1, 90, 'end'))).toBe(
      '2026-11-01T06:30:00.000Z',
    );
  });

  it('ordinary days map one to one', () => {
    expect(iso(localWallTimeToInstant('Europe/Berlin', 2026, 6, 10, 13 * 60, 'start'))).toBe(
      '2026-06-10T11:00:00.000Z',
    );
    expect(iso(localWallTimeToInstant('UTC', 2026, 6, 10, 24 * 60, 'end'))).toBe('2026-06-11T00:00:00.000Z');
  });
});

describe('weekly slots follow local wall time', () => {
  const cleaner: WeeklySchedule = { days: ['sun'], from: '02:00', to: '04:00' };

  it('a Berlin slot 02:00-04:00 is one hour long on the spring-forward Sunday', () => {
    const slots = candidateSlots(cleaner, Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin');
    const sunday = slots.at(-1)!;
    expect(iso(sunday.start)).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(sunday.end)).toBe('2026-03-29T02:00:00.000Z');
  });

  it('a Berlin slot 02:00-04:00 is three hours long on the fall-back Sunday', () => {
    const slots = candidateSlots(cleaner, Date.parse('2026-10-25T01:30:00Z'), 'Europe/Berlin');
    const sunday = slots.at(-1)!;
    expect(iso(sunday.start)).toBe('2026-10-25T00:00:00.000Z');
    expect(iso(sunday.end)).toBe('2026-10-25T03:00:00.000Z');
  });

  it('the same slot keeps its local hours in summer and winter (UTC hours move)', () => {
    const weekday: WeeklySchedule = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' };
    expect(withinSchedule(weekday, Date.parse('2026-07-01T07:30:00Z'), 'Europe/Berlin')).toBe(true); // 09:30 CEST
    expect(withinSchedule(weekday, Date.parse('2026-12-01T07:30:00Z'), 'Europe/Berlin')).toBe(false); // 08:30 CET
    expect(withinSchedule(weekday, Date.parse('2026-12-01T08:30:00Z'), 'Europe/Berlin')).toBe(true); // 09:30 CET
  });

  it('widens each edge by the grace', () => {
    const slot: WeeklySchedule = { days: ['wed'], from: '10:00', to: '12:00' };
    const end = Date.parse('2026-06-10T10:00:00Z'); // 12:00 CEST
    expect(withinSchedule(slot, end + 60_000, 'Europe/Berlin', 0)).toBe(false);
    expect(withinSchedule(slot, end + 60_000, 'Europe/Berlin', 120_000)).toBe(true);
  });
});

describe('the grace reaches across local days', () => {
  const grace = 120_000;

  it('a tue 00:00-02:00 slot opens at Mon 23:58:30 (its start widened into Monday)', () => {
    const slot: WeeklySchedule = { days: ['tue'], from: '00:00', to: '02:00' };
    // 2026-06-08 is a Monday; Berlin is UTC+2 in June.
    expect(withinSchedule(slot, Date.parse('2026-06-08T21:58:30Z'), 'Europe/Berlin', grace)).toBe(true);
    expect(withinSchedule(slot, Date.parse('2026-06-08T21:57:59Z'), 'Europe/Berlin', grace)).toBe(false);
    expect(withinSchedule(slot, Date.parse('2026-06-08T21:58:30Z'), 'Europe/Berlin', 0)).toBe(false);
  });

  it('a mon 23:00-24:00 slot still opens at Tue 00:01:30 (its end widened into Tuesday)', () => {
    const slot: WeeklySchedule = { days: ['mon'], from: '23:00', to: '24:00' };
    expect(withinSchedule(slot, Date.parse('2026-06-09T00:01:30Z'), 'UTC', grace)).toBe(true);
    expect(withinSchedule(slot, Date.parse('2026-06-09T00:02:00Z'), 'UTC', grace)).toBe(false);
  });

  it('the end of a slot that began two local days earlier is widened too', () => {
    // Sat 23:59 to Sun 23:58: with a 10-minute grace it runs to Mon 00:08.
    const slot: WeeklySchedule = { days: ['sat'], from: '23:59', to: '23:58' };
    const tenMinutes = 600_000;
    expect(withinSchedule(slot, Date.parse('2026-06-08T00:05:00Z'), 'UTC', tenMinutes)).toBe(true);
    expect(withinSchedule(slot, Date.parse('2026-06-08T00:08:00Z'), 'UTC', tenMinutes)).toBe(false);
  });

  it('a slot starting on a Sunday night across the spring-forward gap keeps its widened start', () => {
    // New York, Sat 2026-03-07 23:58:30 EST is 04:58:30Z; a sun 00:00-01:00 slot opens with the grace.
    const slot: WeeklySchedule = { days: ['sun'], from: '00:00', to: '01:00' };
    expect(withinSchedule(slot, Date.parse('2026-03-08T04:58:30Z'), 'America/New_York', grace)).toBe(true);
  });
});
