import { Duration } from 'luxon';

/** ISO-8601 duration ("PT10S", "P1D", "PT1H30M") to milliseconds, or undefined if not one. */
export function parseDurationMs(text: unknown): number | undefined {
  if (typeof text !== 'string' || !/^P/.test(text)) return undefined;
  const duration = Duration.fromISO(text);
  if (!duration.isValid) return undefined;
  const ms = duration.as('milliseconds');
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
