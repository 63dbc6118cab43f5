import { DateTime } from 'luxon';
import { TumblerError } from '../errors.ts';
import { checkIsoInstant, writesInstant } from '../validation.ts';
import {
  checkCodeLength,
  checkKeyVersion,
  checkSecret,
  DEFAULT_CODE_LENGTH,
  deriveOfflineKey,
  deriveOfflineKeyV2,
  encodeOfflineCode,
  groupCode,
  localDayNumber,
  type OfflineFields,
  type OfflineKind,
} from './offline.ts';
import { localHourInstant, type OfflineWindow, offlineWindow } from './offline-credential.ts';
import {
  DAY_MS,
  DAY_SETS,
  HOUR_MS,
  MAX_DAYS,
  MAX_HOURS,
  OFFLINE_KINDS,
  packRecurring,
  WINDOWS,
} from './offline-layout.ts';
import {
  packV2,
  unpackV2,
  V2_MAX_DAYS,
  V2_MAX_HOURS,
  V2_MAX_PERIODS,
  V2_PERIOD_DAYS,
  V2_VARIANTS,
  type V2Params,
} from './offline-layout-v2.ts';
import { isValidZone, localDateTimeToInstant, parseClockTime } from './schedule.ts';
import { WEEKDAYS, type Weekday, type WeeklySchedule } from './types.ts';

/** A code is issued at most this far ahead of its start: a year of exposure is plenty. */
export const MAX_START_AHEAD_DAYS = 366;

/** What the issuer is asked for (the CLI flags and the scenario step map onto this). */
export interface OfflineRequest {
  kind: string;
  /** ISO date ("2026-12-01"), ISO date-time (zone offset optional: else the lock's zone), or epoch ms. */
  start: string | number;
  hours?: number;
  days?: number;
  /** Weekdays of a recurring code: ["tue", "thu"] or "tue,thu". */
  daysOfWeek?: readonly string[] | string;
  /** Whole hours "HH:00" of a recurring code's daily window. */
  from?: string;
  to?: string;
  /** The format version: 1 (default) or 2 (offline-layout-v2.ts). The fields below are version 2 only. */
  version?: number;
  /** Which of the distinct codes for the same slot: 0 up to V2_VARIANTS[kind] - 1 (default 0). */
  variant?: number;
  /** daily: local check-in hour "HH:00" on the start date (a start given as a date only). */
  checkIn?: string;
  /** daily: local check-out hour "HH:00" on the end date (default 00:00). */
  checkOut?: string;
  /** recurring: life in weeks, a multiple of 4 from 4 to 52. */
  weeks?: number;
}

export interface IssueOptions {
  /** The lock's time zone (default UTC): date anchors and recurring windows are local. */
  timezone?: string;
  /** The issuer's clock, to refuse codes that could never be used; default Date.now(). */
  now?: number;
  /** Code length L (default 12); must match the lock's offlineCodeLength. */
  length?: number;
}

/** A checked request, ready to encode. */
export interface OfflinePlan {
  fields: OfflineFields;
  window: OfflineWindow;
  timezone: string;
  length: number;
}

export type OfflineRequestField =
  | 'kind'
  | 'start'
  | 'hours'
  | 'days'
  | 'daysOfWeek'
  | 'from'
  | 'to'
  | 'timezone'
  | 'length'
  | 'version'
  | 'variant'
  | 'checkIn'
  | 'checkOut'
  | 'weeks';

export type PlanResult =
  | { ok: true; plan: OfflinePlan }
  | { ok: false; error: 'invalid_request'; field: OfflineRequestField; message: string };

/** A refused request, thrown by issueOfflineCode: `field` names what to change. */
export class OfflineRequestError extends TumblerError {
  constructor(
    readonly field: OfflineRequestField,
    message: string,
  ) {
    super('offline_request_invalid', message);
    this.name = 'OfflineRequestError';
  }
}

export interface IssuedOfflineCode {
  /** The format version (1 or 2). */
  version: 1 | 2;
  /** Version 2: which of the codes for the same slot (0 for version 1). */
  variant: number;
  /** The digits to type, then `#`. */
  code: string;
  /** The same, grouped for people: "1234-5678-9012". */
  grouped: string;
  /** Identifies the code to the lock and the gateway (revocation, audit) without revealing it. */
  fingerprint: string;
  kind: OfflineKind;
  keyVersion: number;
  length: number;
  timezone: string;
  fields: OfflineFields;
  validFrom: number;
  validUntil: number | null;
  activateBy: number | null;
  schedule: WeeklySchedule | null;
}

const HOUR_KINDS: readonly string[] = ['one_time', 'hourly', 'erase'];
const iso = (ms: number, zone: string) =>
  DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true });

type Fail = Extract<PlanResult, { ok: false }>;
const fail = (field: OfflineRequestField, message: string): Fail => ({
  ok: false,
  error: 'invalid_request',
  field,
  message: `${field}: ${message}`,
});

function parseStart(start: unknown, zone: string): { ms: number; dateOnly: boolean } | Fail {
  if (typeof start === 'number') {
    return Number.isSafeInteger(start) && start >= 0
      ? { ms: start, dateOnly: false }
      : fail('start', 'must be epoch ms >= 0');
  }
  if (typeof start !== 'string') return fail('start', 'must be an ISO-8601 date or date-time');
  if (writesInstant(start)) {
    const instant = checkIsoInstant(start);
    return instant.ok ? { ms: instant.ms, dateOnly: false } : fail('start', instant.message);
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(start);
  // Local wall time in the lock's zone: on the night clocks go back, the first
  // occurrence, as for a schedule slot's start (docs/access-rules.md).
  const ms = localDateTimeToInstant(start, zone, 'start');
  if (ms === undefined) {
    return fail('start', 'must be an ISO-8601 date (2026-12-01) or date-time (2026-12-01T15:00+01:00)');
  }
  return { ms, dateOnly };
}

function checkDuration(field: 'hours' | 'days', value: unknown, max: number): Fail | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    return fail(
      field,
      `must be a whole number 1-${max}${value === undefined ? '' : ` (got ${String(value)})`}`,
    );
  }
  return undefined;
}

function daySetIndex(value: unknown): number | Fail {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  const accepted = DAY_SETS.map((set) => set.join(',')).join(' | ');
  if (!list || list.length === 0) return fail('daysOfWeek', `must list weekdays, one of: ${accepted}`);
  const days = new Set<Weekday>();
  for (const raw of list) {
    const day = String(raw).trim().toLowerCase().slice(0, 3);
    if (!(WEEKDAYS as readonly string[]).includes(day))
      return fail('daysOfWeek', `"${String(raw)}" is not a weekday (mon..sun)`);
    days.add(day as Weekday);
  }
  const index = DAY_SETS.findIndex((set) => set.length === days.size && set.every((day) => days.has(day)));
  if (index < 0)
    return fail('daysOfWeek', `this set of days has no offline encoding; use one of: ${accepted}`);
  return index;
}

function wholeHour(field: 'from' | 'to', value: unknown): number | Fail {
  const minutes = typeof value === 'string' ? parseClockTime(value) : undefined;
  if (minutes === undefined || minutes % 60 !== 0)
    return fail(field, 'must be a whole hour HH:00 (00:00-24:00)');
  const hour = minutes / 60;
  if (field === 'from' && hour > 23) return fail('from', 'must be 00:00-23:00');
  if (field === 'to' && hour < 1) return fail('to', 'must be 01:00-24:00 (use 24:00 for midnight)');
  return hour;
}

/** The (kind, param) pair a request names, with its own fields checked. */
function kindAndParam(request: OfflineRequest): { kind: OfflineKind; param: number } | Fail {
  const kind = request.kind as OfflineKind;
  if (!(OFFLINE_KINDS as readonly string[]).includes(kind))
    return fail('kind', `must be one of ${OFFLINE_KINDS.join(', ')}`);
  const stray = (field: 'hours' | 'days' | 'daysOfWeek' | 'from' | 'to', owner: string) =>
    request[field] !== undefined ? fail(field, `belongs to kind ${owner}, not ${kind}`) : undefined;
  if (kind !== 'hourly') {
    const bad = stray('hours', 'hourly');
    if (bad) return bad;
  }
  if (kind !== 'daily') {
    const bad = stray('days', 'daily');
    if (bad) return bad;
  }
  if (kind !== 'recurring') {
    for (const field of ['daysOfWeek', 'from', 'to'] as const) {
      const bad = stray(field, 'recurring');
      if (bad) return bad;
    }
  }
  if (kind === 'hourly')
    return checkDuration('hours', request.hours, MAX_HOURS) ?? { kind, param: request.hours! };
  if (kind === 'daily')
    return checkDuration('days', request.days, MAX_DAYS) ?? { kind, param: request.days! };
  if (kind !== 'recurring') return { kind, param: 0 };
  const daySet = daySetIndex(request.daysOfWeek);
  if (typeof daySet !== 'number') return daySet;
  if (request.from === undefined) return fail('from', 'is required for kind recurring (HH:00)');
  if (request.to === undefined) return fail('to', 'is required for kind recurring (HH:00)');
  const from = wholeHour('from', request.from);
  if (typeof from !== 'number') return from;
  const to = wholeHour('to', request.to);
  if (typeof to !== 'number') return to;
  if (from === to) return fail('to', 'must differ from from');
  return { kind, param: packRecurring(daySet, from, to) };
}

/** The anchor: UTC hour index for hour kinds, local date number for date kinds. */
function anchorOf(kind: OfflineKind, start: { ms: number; dateOnly: boolean }, zone: string): number | Fail {
  if (HOUR_KINDS.includes(kind)) {
    if (start.ms % HOUR_MS !== 0) {
      return fail('start', `a ${kind} code starts on a whole hour (UTC); got ${iso(start.ms, zone)}`);
    }
    return start.ms / HOUR_MS;
  }
  const local = DateTime.fromMillis(start.ms, { zone });
  if (
    !start.dateOnly &&
    (local.hour !== 0 || local.minute !== 0 || local.second !== 0 || local.millisecond !== 0)
  ) {
    return fail('start', `a ${kind} code starts at local midnight; pass a date such as ${local.toISODate()}`);
  }
  return localDayNumber(start.ms, zone);
}

/** Whether the code could ever be used, judged at the issuer's `now`. */
function timeProblem(kind: OfflineKind, window: OfflineWindow, now: number, zone: string): Fail | undefined {
  if (window.validFrom - now > MAX_START_AHEAD_DAYS * DAY_MS) {
    return fail(
      'start',
      `is more than ${MAX_START_AHEAD_DAYS} days ahead; issue the code closer to its start`,
    );
  }
  if (window.activateBy !== null && window.activateBy <= now) {
    return fail(
      'start',
      `is too far in the past: a ${kind} code must be first used within 24 h of its start, which ended ${iso(window.activateBy, zone)}`,
    );
  }
  if (window.validUntil !== null && window.validUntil <= now) {
    return fail('start', `is too far in the past: the code would have ended ${iso(window.validUntil, zone)}`);
  }
  return undefined;
}

/** Checks a request; refusals are values naming the field (for the CLI and the gateway). */
export function planOfflineCode(request: OfflineRequest, options: IssueOptions = {}): PlanResult {
  const zone = options.timezone ?? 'UTC';
  if (!isValidZone(zone)) return fail('timezone', 'must be an IANA time zone such as Europe/Berlin');
  const length = options.length ?? DEFAULT_CODE_LENGTH;
  try {
    checkCodeLength(length);
  } catch (error) {
    return fail('length', (error as Error).message.replace(/^length /, ''));
  }
  if (typeof request !== 'object' || request === null) return fail('kind', 'request must be an object');
  if (request.version !== undefined && request.version !== 1 && request.version !== 2)
    return fail('version', `must be 1 or 2 (got ${String(request.version)})`);
  if (request.version === 2) return planV2(request, zone, length, options.now ?? Date.now());
  for (const field of V2_ONLY) {
    if (request[field] !== undefined)
      return fail(field, 'needs version 2: a version 1 code has no room for it');
  }
  const kp = kindAndParam(request);
  if ('ok' in kp) return kp;
  const start = parseStart(request.start, zone);
  if ('ok' in start) return start;
  const anchor = anchorOf(kp.kind, start, zone);
  if (typeof anchor !== 'number') return anchor;
  if (anchor < 0 || anchor > 0xffff_ffff) return fail('start', 'is outside the range the format can carry');
  const fields: OfflineFields = { kind: kp.kind, param: kp.param, anchor };
  const window = offlineWindow(fields, zone);
  const problem = timeProblem(kp.kind, window, options.now ?? Date.now(), zone);
  if (problem) return problem;
  return { ok: true, plan: { fields, window, timezone: zone, length } };
}

const V2_ONLY = ['variant', 'checkIn', 'checkOut', 'weeks'] as const;

/** A weekday list ("mon,thu" or ["mon", "thu"]) as a version 2 mask (Monday bit 0). */
function weekdayMask(value: unknown): number | Fail {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (!list || list.length === 0) return fail('daysOfWeek', 'must list weekdays (mon..sun), e.g. mon,thu');
  let mask = 0;
  for (const raw of list) {
    const bit = (WEEKDAYS as readonly string[]).indexOf(String(raw).trim().toLowerCase().slice(0, 3));
    if (bit < 0) return fail('daysOfWeek', `"${String(raw)}" is not a weekday (mon..sun)`);
    mask |= 1 << bit;
  }
  return mask;
}

function wholeHourOfDay(field: 'checkIn' | 'checkOut', value: unknown): number | Fail {
  const minutes = typeof value === 'string' ? parseClockTime(value) : undefined;
  if (minutes === undefined || minutes % 60 !== 0 || minutes > 23 * 60)
    return fail(field, 'must be a whole local hour HH:00 (00:00-23:00)');
  return minutes / 60;
}

/**
 * The local hour number a version 2 start names, checked to round-trip: a start must be
 * a whole local hour that the lock's one DST rule (first occurrence) reads back as the
 * same instant, so the second 02:00 of a fall-back night cannot be named.
 */
function localHourAnchor(ms: number, zone: string, kind: OfflineKind): number | Fail {
  const local = DateTime.fromMillis(ms, { zone });
  if (local.minute !== 0 || local.second !== 0 || local.millisecond !== 0)
    return fail('start', `a version 2 ${kind} code starts on a whole local hour; got ${iso(ms, zone)}`);
  const hour = Date.UTC(local.year, local.month - 1, local.day) / HOUR_MS + local.hour;
  if (localHourInstant(hour, zone, 'start') !== ms) {
    return fail(
      'start',
      `names the second occurrence of ${local.toFormat('HH:mm')} on the night clocks go back; the lock reads a local start as the first`,
    );
  }
  return hour;
}

function planV2(request: OfflineRequest, zone: string, length: number, now: number): PlanResult {
  const kind = request.kind as OfflineKind;
  if (!(OFFLINE_KINDS as readonly string[]).includes(kind))
    return fail('kind', `must be one of ${OFFLINE_KINDS.join(', ')}`);
  const owners: Array<[keyof OfflineRequest & OfflineRequestField, OfflineKind]> = [
    ['hours', 'hourly'],
    ['days', 'daily'],
    ['checkIn', 'daily'],
    ['checkOut', 'daily'],
    ['daysOfWeek', 'recurring'],
    ['from', 'recurring'],
    ['to', 'recurring'],
    ['weeks', 'recurring'],
  ];
  for (const [field, owner] of owners) {
    if (owner !== kind && request[field] !== undefined)
      return fail(field, `belongs to kind ${owner}, not ${kind}`);
  }
  const variants = V2_VARIANTS[kind];
  const variant = request.variant ?? 0;
  if (!Number.isInteger(variant) || variant < 0 || variant >= variants) {
    return fail(
      'variant',
      variants === 1
        ? `must be 0: a ${kind} code has one variant`
        : `must be a whole number 0-${variants - 1} for kind ${kind} (got ${String(variant)})`,
    );
  }
  const p: V2Params = { variant };
  if (kind === 'hourly') {
    const bad = checkDuration('hours', request.hours, V2_MAX_HOURS);
    if (bad) return bad;
    p.hours = request.hours!;
  } else if (kind === 'daily') {
    const bad = checkDuration('days', request.days, V2_MAX_DAYS);
    if (bad) return bad;
    p.days = request.days!;
    const checkOut = wholeHourOfDay('checkOut', request.checkOut ?? '00:00');
    if (typeof checkOut !== 'number') return checkOut;
    p.checkOut = checkOut;
  } else if (kind === 'recurring') {
    const mask = weekdayMask(request.daysOfWeek);
    if (typeof mask !== 'number') return mask;
    if (request.from === undefined) return fail('from', 'is required for kind recurring (HH:00)');
    if (request.to === undefined) return fail('to', 'is required for kind recurring (HH:00)');
    const from = wholeHour('from', request.from);
    if (typeof from !== 'number') return from;
    const to = wholeHour('to', request.to);
    if (typeof to !== 'number') return to;
    if (from === to) return fail('to', 'must differ from from');
    const weeks = request.weeks;
    const maxWeeks = (V2_MAX_PERIODS * V2_PERIOD_DAYS) / 7;
    if (
      typeof weeks !== 'number' ||
      !Number.isInteger(weeks) ||
      weeks < 4 ||
      weeks > maxWeeks ||
      weeks % 4 !== 0
    ) {
      return fail(
        'weeks',
        `must be a multiple of 4 from 4 to ${maxWeeks}${weeks === undefined ? '' : ` (got ${String(weeks)})`}`,
      );
    }
    p.mask = mask;
    p.window = WINDOWS.findIndex(([f, t]) => f === from && t === to);
    p.periods = weeks / 4;
  }
  // A daily code's check-in joins a start given as a date; otherwise the start carries the time.
  let startText = request.start;
  if (request.checkIn !== undefined) {
    if (typeof startText !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(startText))
      return fail(
        'checkIn',
        'goes with a start given as a date (2026-12-01); else the start carries the time',
      );
    const checkIn = wholeHourOfDay('checkIn', request.checkIn);
    if (typeof checkIn !== 'number') return checkIn;
    startText = `${startText}T${String(checkIn).padStart(2, '0')}:00`;
  }
  const start = parseStart(startText, zone);
  if ('ok' in start) return start;
  let anchor: number | Fail;
  if (kind === 'recurring') anchor = anchorOf(kind, start, zone);
  else anchor = localHourAnchor(start.ms, zone, kind);
  if (typeof anchor !== 'number') return anchor;
  if (anchor < 0 || anchor > 0xffff_ffff) return fail('start', 'is outside the range the format can carry');
  const fields: OfflineFields = { version: 2, kind, param: packV2(kind, p), anchor };
  const window = offlineWindow(fields, zone);
  if (window.validUntil !== null && window.validUntil <= window.validFrom)
    return fail('checkOut', 'ends before the code starts (the clocks skip that hour)');
  const problem = timeProblem(kind, window, now, zone);
  if (problem) return problem;
  return { ok: true, plan: { fields, window, timezone: zone, length } };
}

/** Encodes a checked plan under the lock's secret and key version. */
export function encodePlan(secret: Uint8Array, keyVersion: number, plan: OfflinePlan): IssuedOfflineCode {
  const v2 = plan.fields.version === 2;
  const key = v2
    ? deriveOfflineKeyV2(secret, keyVersion, plan.length)
    : deriveOfflineKey(secret, keyVersion, plan.length);
  const { code, mac } = encodeOfflineCode(key, plan.fields);
  return {
    version: v2 ? 2 : 1,
    variant: v2 ? unpackV2(plan.fields.kind, plan.fields.param).variant : 0,
    code,
    grouped: groupCode(code),
    fingerprint: mac.fingerprint,
    kind: plan.fields.kind,
    keyVersion,
    length: code.length,
    timezone: plan.timezone,
    fields: plan.fields,
    validFrom: plan.window.validFrom,
    validUntil: plan.window.validUntil,
    activateBy: plan.window.activateBy,
    schedule: plan.window.schedule,
  };
}

/**
 * The issuer: a code for one lock (its device secret) under its current key version.
 * Throws OfflineRequestError (with `field`) for a request that cannot be issued, and
 * TypeError/RangeError for a bad secret or key version. `options` may be just the time zone.
 */
export function issueOfflineCode(
  secret: Uint8Array,
  keyVersion: number,
  request: OfflineRequest,
  options: IssueOptions | string = {},
): IssuedOfflineCode {
  checkSecret(secret);
  checkKeyVersion(keyVersion);
  const result = planOfflineCode(request, typeof options === 'string' ? { timezone: options } : options);
  if (!result.ok) throw new OfflineRequestError(result.field, result.message);
  return encodePlan(secret, keyVersion, result.plan);
}
