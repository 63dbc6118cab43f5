import { DateTime } from 'luxon';

/** "2h 13m 05s", "4m 10s", "12s", "3d 04h": how long, for people. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (days > 0) return `${sign}${days}d ${two(hours)}h ${two(minutes)}m`;
  if (hours > 0) return `${sign}${hours}h ${two(minutes)}m ${two(seconds)}s`;
  if (minutes > 0) return `${sign}${minutes}m ${two(seconds)}s`;
  return `${sign}${seconds}s`;
}

/** An instant as ISO-8601 UTC to the second: 2025-11-22T13:03:12Z. */
export function isoUtc(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  return DateTime.fromMillis(Math.floor(ms / 1000) * 1000, { zone: 'utc' }).toISO({
    suppressMilliseconds: true,
  })!;
}

/** An instant in the lock's zone: 2025-11-22 14:03:12 CET. */
export function localDateTime(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toFormat('yyyy-LL-dd HH:mm:ss ZZZZ');
}

/**
 * A short local time for lists: "14:03" on the day of `now`, "Tue 14:03" within the
 * week before, else "2025-11-12 14:03".
 */
export function shortLocalTime(ms: number, now: number, zone: string, seconds = false): string {
  const at = DateTime.fromMillis(ms, { zone });
  const today = DateTime.fromMillis(now, { zone });
  const time = at.toFormat(seconds ? 'HH:mm:ss' : 'HH:mm');
  if (at.hasSame(today, 'day')) return time;
  if (today.diff(at, 'days').days < 6 && at < today) return `${at.toFormat('ccc')} ${time}`;
  return `${at.toFormat('yyyy-LL-dd')} ${time}`;
}
