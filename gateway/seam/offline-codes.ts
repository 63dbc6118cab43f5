import { DateTime } from 'luxon';
import {
  type IssuedOfflineCode,
  issueOfflineCode,
  type OfflineRequest,
  OfflineRequestError,
} from '../../firmware/access/offline-issue.ts';
import type { DeviceRecord } from '../store.ts';
import { SeamInputError } from './errors.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Seam's max_time_rounding values, as how far an edge of the window may move. */
export const ROUNDING_MS: Record<'1hour' | '1h' | '1day' | '1d', number> = {
  '1hour': HOUR,
  '1h': HOUR,
  '1day': DAY,
  '1d': DAY,
};

/** What the lock told the gateway an issuer needs (its list_codes answer). */
export interface OfflineIssuerParams {
  key_version: number;
  length: number;
  timezone: string;
}

export interface OfflineCodeAsk {
  startsAt: number | null;
  endsAt: number | null;
  isOneTimeUse: boolean;
  roundingMs: number;
}

/**
 * The offline-code request (docs/offline-codes.md) for a Seam offline access code:
 * one-time use: `one_time` from the whole UTC hour of starts_at (valid 24 h, once);
 * a window with 1-hour rounding: `hourly` from the hour of starts_at to the hour at or
 * after ends_at; with 1-day rounding: `daily` over the lock's local dates; no window:
 * `permanent` from today.
 */
function requestFor(ask: OfflineCodeAsk, zone: string, now: number): OfflineRequest {
  const floorHour = (ms: number) => Math.floor(ms / HOUR) * HOUR;
  if (ask.isOneTimeUse) return { kind: 'one_time', start: floorHour(ask.startsAt ?? now) };
  if (ask.startsAt === null || ask.endsAt === null)
    return { kind: 'permanent', start: DateTime.fromMillis(now, { zone }).toISODate()! };
  if (ask.roundingMs < DAY) {
    const start = floorHour(ask.startsAt);
    return { kind: 'hourly', start, hours: Math.ceil((ask.endsAt - start) / HOUR) };
  }
  const first = DateTime.fromMillis(ask.startsAt, { zone }).startOf('day');
  const end = DateTime.fromMillis(ask.endsAt, { zone });
  const last = end.equals(end.startOf('day')) ? end : end.startOf('day').plus({ days: 1 });
  return {
    kind: 'daily',
    start: first.toISODate()!,
    days: Math.round(last.diff(first, 'days').days),
  };
}

/**
 * Issues the code with the lock's own issuer, or a 400 naming the field: the issued
 * window must hold the asked one, each edge moved by at most max_time_rounding.
 */
export function issueSeamOfflineCode(
  device: DeviceRecord,
  params: OfflineIssuerParams,
  ask: OfflineCodeAsk,
  now = Date.now(),
): IssuedOfflineCode {
  let issued: IssuedOfflineCode;
  try {
    issued = issueOfflineCode(device.secret, params.key_version, requestFor(ask, params.timezone, now), {
      timezone: params.timezone,
      now,
      length: params.length,
    });
  } catch (error) {
    if (!(error instanceof OfflineRequestError)) throw error;
    const field =
      error.field === 'hours' || error.field === 'days'
        ? 'ends_at'
        : error.field === 'start'
          ? 'starts_at'
          : 'is_offline_access_code';
    throw new SeamInputError(field, `${field}: no offline code fits: ${error.message}`);
  }
  if (ask.startsAt !== null && !ask.isOneTimeUse && ask.startsAt - issued.validFrom > ask.roundingMs)
    throw new SeamInputError('max_time_rounding', 'max_time_rounding: the code would start too early');
  if (
    ask.endsAt !== null &&
    (issued.validUntil === null ||
      issued.validUntil < ask.endsAt ||
      issued.validUntil - ask.endsAt > ask.roundingMs)
  )
    throw new SeamInputError(
      'max_time_rounding',
      `max_time_rounding: the nearest offline code ends at ${issued.validUntil === null ? 'no end' : new Date(issued.validUntil).toISOString()}`,
    );
  return issued;
}
