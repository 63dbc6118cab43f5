import { describe, expect, it } from 'vitest';
import { planOfflineCode } from '../../firmware/access/offline-issue.ts';
import { localDateTimeToInstant, localWallTimeToInstant } from '../../firmware/access/schedule.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** An offline code's local start follows the access rules' one DST rule for a start. */
describe('an offline code written in local time starts as a schedule slot would', () => {
  const plan = (start: string, timezone: string) => {
    const result = planOfflineCode(
      { kind: 'hourly', start, hours: 2 },
      { timezone, now: Date.parse(start.slice(0, 10)) - 86_400_000 },
    );
    if (!result.ok) throw new Error(result.message);
    return result.plan.window.validFrom;
  };

  it('Berlin, the night clocks go back: 02:00 is its first occurrence (02:00 CEST, 00:00Z)', () => {
    expect(iso(plan('2026-10-25T02:00', 'Europe/Berlin'))).toBe('2026-10-25T00:00:00.000Z');
    expect(plan('2026-10-25T02:00', 'Europe/Berlin')).toBe(
      localWallTimeToInstant('Europe/Berlin', 2026, 10, 25, 120, 'start'),
    );
  });

  it('New York, the night clocks go back: 01:00 is its first occurrence (01:00 EDT, 05:00Z)', () => {
    expect(iso(plan('2026-11-01T01:00', 'America/New_York'))).toBe('2026-11-01T05:00:00.000Z');
  });

  it('the spring-forward gap moves a start to the instant the gap ends, as for a slot', () => {
    expect(iso(plan('2026-03-29T02:00', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('an instant with an offset is read as written', () => {
    expect(iso(plan('2026-10-25T02:00:00+01:00', 'Europe/Berlin'))).toBe('2026-10-25T01:00:00.000Z');
  });

  it('localDateTimeToInstant reads dates and date-times as local wall time', () => {
    expect(iso(localDateTimeToInstant('2026-06-10', 'Europe/Berlin', 'start')!)).toBe(
      '2026-06-09T22:00:00.000Z',
    );
    expect(iso(localDateTimeToInstant('2026-10-25T02:30:15', 'Europe/Berlin', 'end')!)).toBe(
      '2026-10-25T01:30:15.000Z',
    );
    expect(localDateTimeToInstant('tomorrow', 'UTC', 'start')).toBeUndefined();
  });
});
