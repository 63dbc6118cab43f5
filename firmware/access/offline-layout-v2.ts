import {
  type AnchorUnit,
  floorIndex,
  inverseMod,
  mod,
  type OfflineKind,
  offsets,
  WINDOWS,
} from './offline-layout.ts';
import { WEEKDAYS, type Weekday } from './types.ts';

/**
 * The header of a version 2 offline code (docs/offline-codes.md, "Version 2"): nine
 * digits instead of six, so a code is three digits longer than a version 1 code of the
 * same lock and the length alone tells the lock which version it reads. Same idea as
 * version 1: one number H, mixed radix, each (kind, parameters) block exactly as large as
 * the number of anchor values the lock must tell apart, so the anchor is rebuilt from the
 * clock and checked with one HMAC.
 *
 * What version 2 adds: anchors are local wall hours (any zone, half-hour zones included),
 * daily codes carry check-in and check-out hours, a variant number, any weekday set on
 * recurring codes with a life of 4 to 52 weeks.
 */

export const V2_HEADER_DIGITS = 9;
export const V2_HEADER_VALUES = 10 ** V2_HEADER_DIGITS;
/** A version 2 code is this many digits longer than the lock's version 1 length L. */
export const V2_EXTRA_DIGITS = 3;

/** Fixed public printing bijection of 0..10^9-1 (7,654,321 is coprime to 10). */
export const V2_HEADER_MULTIPLIER = 7_654_321;
export const V2_HEADER_OFFSET = 314_159_265;

/** a x b mod m for a, b < 10^9 without leaving exact doubles: b is split at 10^5. */
function mulMod(a: number, b: number, m: number): number {
  const high = Math.floor(b / 100_000);
  const low = b % 100_000;
  return (((a * high) % m) * 100_000 + a * low) % m;
}

const V2_HEADER_INVERSE = inverseMod(V2_HEADER_MULTIPLIER, V2_HEADER_VALUES);

export function whitenHeaderV2(header: number): number {
  return (mulMod(header, V2_HEADER_MULTIPLIER, V2_HEADER_VALUES) + V2_HEADER_OFFSET) % V2_HEADER_VALUES;
}

export function unwhitenHeaderV2(printed: number): number {
  return mulMod(
    (printed - V2_HEADER_OFFSET + V2_HEADER_VALUES) % V2_HEADER_VALUES,
    V2_HEADER_INVERSE,
    V2_HEADER_VALUES,
  );
}

/** Distinct codes per slot: as many as igloohome allows (3 hourly, 3 daily, 5 one-time). */
export const V2_VARIANTS: Readonly<Record<OfflineKind, number>> = {
  one_time: 5,
  erase: 1,
  hourly: 3,
  daily: 3,
  permanent: 3,
  recurring: 3,
};

export const V2_MAX_HOURS = 672;
export const V2_MAX_DAYS = 367;
/** Recurring lives are whole 4-week periods: 1-13 of them, 28 to 364 days. */
export const V2_PERIOD_DAYS = 28;
export const V2_MAX_PERIODS = 13;
/** Hour-anchored codes verify from 24 local hours before their start. */
export const V2_HOUR_LEAD = 24;
/**
 * Local hours that a code's life in real hours can span beyond its length: a start in
 * the spring-forward gap reads one hour later, the spring-forward night itself skips an
 * hour, and the edge tolerance (at most an hour) reaches one more.
 */
export const V2_HOUR_SLACK = 3;
export const V2_DAY_LEAD = 1;
/** Permanent codes rebuild their anchor over 240,000 local hours (27 years). */
export const V2_PERMANENT_MODULUS = 240_000;
/** Weekday mask bits: Monday is bit 0, Sunday bit 6. */
export const V2_MASKS = 127;

const hourModulus = (lifeHours: number) => V2_HOUR_LEAD + lifeHours + V2_HOUR_SLACK;
/** Daily: the longest life in local hours is 24 x days + checkOut (a check-in at 00:00). */
const dailyModulus = (days: number, checkOut: number) => hourModulus(24 * days + checkOut);
const recurringModulus = (periods: number) => V2_PERIOD_DAYS * periods + V2_DAY_LEAD + 1;

/** The parameters a version 2 code carries besides its anchor. */
export interface V2Params {
  variant: number;
  /** hourly: 1-672. */
  hours?: number;
  /** daily: the end date is the start date + days (1-367). */
  days?: number;
  /** daily: the end's local hour on the end date, 0-23. */
  checkOut?: number;
  /** recurring: weekday bits (Monday bit 0), 1-127. */
  mask?: number;
  /** recurring: index into WINDOWS (the 553 whole-hour windows of version 1). */
  window?: number;
  /** recurring: life in 4-week periods, 1-13. */
  periods?: number;
}

/**
 * The 24-bit parameter of the MAC counter: variant in bits 21-23, then per kind
 * hourly: hours; daily: days << 5 | checkOut; recurring: mask << 14 | window << 4 | periods.
 */
export function packV2(kind: OfflineKind, p: V2Params): number {
  let inner = 0;
  if (kind === 'hourly') inner = p.hours!;
  else if (kind === 'daily') inner = (p.days! << 5) | p.checkOut!;
  else if (kind === 'recurring') inner = (p.mask! << 14) | (p.window! << 4) | p.periods!;
  return ((p.variant << 21) | inner) >>> 0;
}

export function unpackV2(kind: OfflineKind, param: number): V2Params {
  const variant = param >>> 21;
  const inner = param & 0x1f_ffff;
  if (kind === 'hourly') return { variant, hours: inner };
  if (kind === 'daily') return { variant, days: inner >>> 5, checkOut: inner & 0x1f };
  if (kind === 'recurring')
    return { variant, mask: inner >>> 14, window: (inner >>> 4) & 0x3ff, periods: inner & 0xf };
  return { variant };
}

export function maskDays(mask: number): Weekday[] {
  return WEEKDAYS.filter((_, bit) => (mask >>> bit) & 1);
}

/**
 * One kind's share of the header: `outer` uniform blocks (variant, and for recurring the
 * weekday mask and window) of `stride` values each; inside a block, `inner` sub-blocks
 * whose sizes are the anchor moduli of the remaining parameter.
 */
interface KindRangeV2 {
  kind: OfflineKind;
  unit: AnchorUnit;
  lead: number;
  base: number;
  outer: number;
  stride: number;
  /** offsets[i] = where inner sub-block i starts; offsets[count] = stride. */
  offsets: Int32Array;
}

const INNER: Readonly<Record<OfflineKind, { unit: AnchorUnit; outer: number; offsets: Int32Array }>> = {
  one_time: { unit: 'hour', outer: V2_VARIANTS.one_time, offsets: offsets(1, () => hourModulus(24)) },
  erase: { unit: 'hour', outer: V2_VARIANTS.erase, offsets: offsets(1, () => hourModulus(24)) },
  permanent: {
    unit: 'hour',
    outer: V2_VARIANTS.permanent,
    offsets: offsets(1, () => V2_PERMANENT_MODULUS),
  },
  // index = hours - 1
  hourly: {
    unit: 'hour',
    outer: V2_VARIANTS.hourly,
    offsets: offsets(V2_MAX_HOURS, (i) => hourModulus(i + 1)),
  },
  // index = (days - 1) x 24 + checkOut
  daily: {
    unit: 'hour',
    outer: V2_VARIANTS.daily,
    offsets: offsets(V2_MAX_DAYS * 24, (i) => dailyModulus(Math.floor(i / 24) + 1, i % 24)),
  },
  // outer = (variant x 127 + mask - 1) x 553 + window; index = periods - 1
  recurring: {
    unit: 'day',
    outer: V2_VARIANTS.recurring * V2_MASKS * WINDOWS.length,
    offsets: offsets(V2_MAX_PERIODS, (i) => recurringModulus(i + 1)),
  },
};

const ORDER: readonly OfflineKind[] = ['one_time', 'erase', 'permanent', 'hourly', 'daily', 'recurring'];

const RANGES_V2: KindRangeV2[] = (() => {
  let base = 0;
  return ORDER.map((kind) => {
    const { unit, outer, offsets: table } = INNER[kind];
    const stride = table[table.length - 1]!;
    const range = {
      kind,
      unit,
      lead: unit === 'hour' ? V2_HOUR_LEAD : V2_DAY_LEAD,
      base,
      outer,
      stride,
      offsets: table,
    };
    base += outer * stride;
    return range;
  });
})();

const LAST = RANGES_V2[RANGES_V2.length - 1]!;
/** Header values from here up name nothing and never verify. */
export const V2_HEADER_USED = LAST.base + LAST.outer * LAST.stride;
if (V2_HEADER_USED > V2_HEADER_VALUES) throw new Error('offline v2 header layout overflows nine digits');

export function headerRangesV2(): ReadonlyArray<{
  kind: OfflineKind;
  unit: AnchorUnit;
  base: number;
  size: number;
}> {
  return RANGES_V2.map(({ kind, unit, base, outer, stride }) => ({ kind, unit, base, size: outer * stride }));
}

const rangeOf = (kind: OfflineKind) => RANGES_V2.find((range) => range.kind === kind)!;

const isInt = (value: unknown, min: number, max: number): value is number =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

/** (outer block, inner index) of a packed parameter; undefined when out of range. */
function place(kind: OfflineKind, param: number): { outer: number; inner: number } | undefined {
  if (!Number.isInteger(param) || param < 0 || param > 0xff_ffff) return undefined;
  const p = unpackV2(kind, param);
  if (!isInt(p.variant, 0, V2_VARIANTS[kind] - 1)) return undefined;
  switch (kind) {
    case 'one_time':
    case 'erase':
    case 'permanent':
      return (param & 0x1f_ffff) === 0 ? { outer: p.variant, inner: 0 } : undefined;
    case 'hourly':
      return isInt(p.hours, 1, V2_MAX_HOURS) ? { outer: p.variant, inner: p.hours - 1 } : undefined;
    case 'daily':
      return isInt(p.days, 1, V2_MAX_DAYS) && isInt(p.checkOut, 0, 23)
        ? { outer: p.variant, inner: (p.days - 1) * 24 + p.checkOut }
        : undefined;
    case 'recurring':
      return isInt(p.mask, 1, V2_MASKS) &&
        isInt(p.window, 0, WINDOWS.length - 1) &&
        isInt(p.periods, 1, V2_MAX_PERIODS)
        ? {
            outer: (p.variant * V2_MASKS + p.mask - 1) * WINDOWS.length + p.window,
            inner: p.periods - 1,
          }
        : undefined;
  }
}

/** The header value of a version 2 code (anchor: local hour number, or local date number for recurring). */
export function encodeHeaderV2(kind: OfflineKind, param: number, anchor: number): number {
  const at = place(kind, param);
  if (!at) throw new RangeError(`param ${param} is out of range for version 2 kind ${kind}`);
  if (!Number.isSafeInteger(anchor) || anchor < 0)
    throw new RangeError('anchor must be a non-negative integer');
  const range = rangeOf(kind);
  const start = range.offsets[at.inner]!;
  const modulus = range.offsets[at.inner + 1]! - start;
  return range.base + at.outer * range.stride + start + mod(anchor, modulus);
}

/** What a version 2 header value names (same shape as version 1's HeaderSlot). */
export interface HeaderSlotV2 {
  kind: OfflineKind;
  unit: AnchorUnit;
  param: number;
  residue: number;
  modulus: number;
  lead: number;
}

export function decodeHeaderV2(header: number): HeaderSlotV2 | undefined {
  if (!Number.isInteger(header) || header < 0 || header >= V2_HEADER_USED) return undefined;
  let range = RANGES_V2[0]!;
  for (const candidate of RANGES_V2) if (header >= candidate.base) range = candidate;
  const within = header - range.base;
  const outer = Math.floor(within / range.stride);
  const rest = within - outer * range.stride;
  // The last entry is the stride, not a block start.
  const inner = floorIndex(range.offsets, rest, range.offsets.length - 2);
  const start = range.offsets[inner]!;
  const modulus = range.offsets[inner + 1]! - start;
  let p: V2Params;
  switch (range.kind) {
    case 'hourly':
      p = { variant: outer, hours: inner + 1 };
      break;
    case 'daily':
      p = { variant: outer, days: Math.floor(inner / 24) + 1, checkOut: inner % 24 };
      break;
    case 'recurring': {
      const window = outer % WINDOWS.length;
      const pair = Math.floor(outer / WINDOWS.length);
      p = {
        variant: Math.floor(pair / V2_MASKS),
        mask: (pair % V2_MASKS) + 1,
        window,
        periods: inner + 1,
      };
      break;
    }
    default:
      p = { variant: outer };
  }
  return {
    kind: range.kind,
    unit: range.unit,
    param: packV2(range.kind, p),
    residue: rest - start,
    modulus,
    lead: range.lead,
  };
}
