import { DateTime } from 'luxon';
import {
  type IssuedOfflineCode,
  issueOfflineCode,
  type OfflineRequest,
  OfflineRequestError,
} from '../../firmware/access/offline-issue.ts';
import { V2_VARIANTS } from '../../firmware/access/offline-layout-v2.ts';
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
 * The version 1 request (docs/offline-codes.md) for a Seam offline access code:
 * one-time use: `one_time` from the whole UTC hour of starts_at (valid 24 h, once);
 * a window with 1-hour rounding: `hourly` from the hour of starts_at to the hour at or
 * after ends_at; with 1-day rounding: `daily` over the lock's local dates; no window:
 * `permanent` from today.
 */
function requestV1(ask: OfflineCodeAsk, zone: string, now: number): OfflineRequest {
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
 * The version 2 request (section 14): edges on whole local hours of the lock's zone,
 * the start rounded down and the end up. A window ending on a later local date is
 * `daily` with check-in and check-out hours; one ending on its start date is `hourly`;
 * one-time use and no window as in version 1, from the local hour.
 */
function requestV2(ask: OfflineCodeAsk, zone: string, now: number, variant: number): OfflineRequest {
  const local = (ms: number) => DateTime.fromMillis(ms, { zone });
  const floorLocalHour = (ms: number) => local(ms).startOf('hour').toMillis();
  const hh = (hour: number) => `${String(hour).padStart(2, '0')}:00`;
  if (ask.isOneTimeUse)
    return { version: 2, variant, kind: 'one_time', start: floorLocalHour(ask.startsAt ?? now) };
  if (ask.startsAt === null || ask.endsAt === null)
    return { version: 2, variant, kind: 'permanent', start: floorLocalHour(now) };
  const start = floorLocalHour(ask.startsAt);
  const endFloor = floorLocalHour(ask.endsAt);
  const end = endFloor === ask.endsAt ? endFloor : endFloor + HOUR;
  const first = local(start);
  const last = local(end);
  const days = Math.round(last.startOf('day').diff(first.startOf('day'), 'days').days);
  if (days < 1)
    return { version: 2, variant, kind: 'hourly', start, hours: Math.round((end - start) / HOUR) };
  return {
    version: 2,
    variant,
    kind: 'daily',
    start: first.toISODate()!,
    checkIn: hh(first.hour),
    checkOut: hh(last.hour),
    days,
  };
}

function seamError(error: OfflineRequestError): SeamInputError {
  const field =
    error.field === 'hours' || error.field === 'days' || error.field === 'checkOut'
      ? 'ends_at'
      : error.field === 'start' || error.field === 'checkIn'
        ? 'starts_at'
        : 'is_offline_access_code';
  return new SeamInputError(field, `${field}: no offline code fits: ${error.message}`);
}

/** Why an issued window does not hold the asked one within the rounding, or null. */
function roundingProblem(issued: IssuedOfflineCode, ask: OfflineCodeAsk): SeamInputError | null {
  if (ask.startsAt !== null && !ask.isOneTimeUse && ask.startsAt - issued.validFrom > ask.roundingMs)
    return new SeamInputError('max_time_rounding', 'max_time_rounding: the code would start too early');
  if (
    ask.endsAt !== null &&
    (issued.validUntil === null ||
      issued.validUntil < ask.endsAt ||
      issued.validUntil - ask.endsAt > ask.roundingMs)
  )
    return new SeamInputError(
      'max_time_rounding',
      `max_time_rounding: the nearest offline code ends at ${issued.validUntil === null ? 'no end' : new Date(issued.validUntil).toISOString()}`,
    );
  return null;
}

/** How far the issued window's edges moved from the asked ones, in total. */
function drift(issued: IssuedOfflineCode, ask: OfflineCodeAsk, now: number): number {
  const start = Math.abs((ask.startsAt ?? now) - issued.validFrom);
  const end = ask.endsAt === null || issued.validUntil === null ? 0 : issued.validUntil - ask.endsAt;
  return start + end;
}

/**
 * Issues the code with the lock's own issuer, or a 400 naming the field: the issued
 * window must hold the asked one, each edge moved by at most max_time_rounding.
 * Version 1 when its window is as close to the asked one as version 2's (3 fewer
 * digits) and this lock was not given the same code before; else version 2 with the
 * first variant this lock was not given (`issuedBefore` by fingerprint).
 */
export function issueSeamOfflineCode(
  device: DeviceRecord,
  params: OfflineIssuerParams,
  ask: OfflineCodeAsk,
  issuedBefore: (fingerprint: string) => boolean,
  now = Date.now(),
): IssuedOfflineCode {
  const options = { timezone: params.timezone, now, length: params.length };
  const attempt = (request: OfflineRequest): IssuedOfflineCode | SeamInputError => {
    try {
      const issued = issueOfflineCode(device.secret, params.key_version, request, options);
      return roundingProblem(issued, ask) ?? issued;
    } catch (error) {
      if (error instanceof OfflineRequestError) return seamError(error);
      throw error;
    }
  };
  const v1 = attempt(requestV1(ask, params.timezone, now));
  const v2 = attempt(requestV2(ask, params.timezone, now, 0));
  if (v2 instanceof SeamInputError) {
    if (v1 instanceof SeamInputError) throw v1;
    if (!issuedBefore(v1.fingerprint)) return v1;
    throw slotFull(ask, 'an identical code was issued to this lock already');
  }
  if (
    !(v1 instanceof SeamInputError) &&
    !issuedBefore(v1.fingerprint) &&
    drift(v1, ask, now) <= drift(v2, ask, now)
  )
    return v1;
  for (let variant = 0; variant < V2_VARIANTS[v2.kind]; variant++) {
    const issued = variant === 0 ? v2 : attempt(requestV2(ask, params.timezone, now, variant));
    if (issued instanceof SeamInputError) throw issued;
    if (!issuedBefore(issued.fingerprint)) return issued;
  }
  throw slotFull(
    ask,
    `all ${V2_VARIANTS[v2.kind]} ${v2.kind} codes for this slot were issued to this lock already`,
  );
}

function slotFull(ask: OfflineCodeAsk, why: string): SeamInputError {
  const field = ask.startsAt === null ? 'is_offline_access_code' : 'starts_at';
  const when = ask.startsAt === null ? 'try again in the next hour' : 'choose another starts_at';
  return new SeamInputError(field, `${field}: no distinct offline code left: ${why}; ${when}`);
}
