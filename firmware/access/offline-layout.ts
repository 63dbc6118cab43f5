import type { Weekday } from './types.ts';

/**
 * The header of an offline code (docs/offline-codes.md section 2): the first six
 * digits, one number H in 0..999999 that names the kind, its parameter and the
 * anchor (start hour or start date) modulo a per-parameter modulus. Mixed radix, not
 * fixed digit fields: every parameter gets exactly the anchor range it needs, which is
 * what lets the lock rebuild the absolute anchor from its clock alone, with one HMAC.
 */

export const OFFLINE_KINDS = ['one_time', 'hourly', 'daily', 'permanent', 'recurring', 'erase'] as const;
export type OfflineKind = (typeof OFFLINE_KINDS)[number];

/** The kind byte in the MAC counter (byte 0). */
export const KIND_CODE: Readonly<Record<OfflineKind, number>> = {
  one_time: 1,
  hourly: 2,
  daily: 3,
  permanent: 4,
  recurring: 5,
  erase: 6,
};

export const HEADER_DIGITS = 6;
export const HEADER_VALUES = 10 ** HEADER_DIGITS;

/**
 * The header is printed through a fixed public affine bijection of 0..999999 so codes
 * look alike whatever their kind (one-time codes would otherwise all start 0000).
 * It hides nothing: the header is public; only the tag is secret.
 */
export const HEADER_MULTIPLIER = 481_207;
export const HEADER_OFFSET = 271_828;

/** a^-1 mod m (extended Euclid); the header bijections of both versions use it. */
export function inverseMod(a: number, m: number): number {
  let [oldR, r] = [a, m];
  let [oldS, s] = [1, 0];
  while (r !== 0) {
    const q = Math.floor(oldR / r);
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

const HEADER_INVERSE = inverseMod(HEADER_MULTIPLIER, HEADER_VALUES);

/** Header value to the six printed digits' number. Products stay below 2^53. */
export function whitenHeader(header: number): number {
  return (header * HEADER_MULTIPLIER + HEADER_OFFSET) % HEADER_VALUES;
}

/** The printed six digits' number back to the header value. */
export function unwhitenHeader(printed: number): number {
  return (((printed - HEADER_OFFSET + HEADER_VALUES) % HEADER_VALUES) * HEADER_INVERSE) % HEADER_VALUES;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Hour-anchored codes verify (as not yet active) up to 24 h before their start. */
export const HOUR_LEAD = 24;
/** Date-anchored codes verify from the day before their start date. */
export const DAY_LEAD = 1;
/** The activation rule: a code's first use must fall within 24 h of its start. */
export const ACTIVATION_HOURS = 24;
export const MAX_HOURS = 672;
export const MAX_DAYS = 367;
/** Date-anchored permanent codes rebuild their anchor over 10,000 days (27 years). */
export const PERMANENT_MODULUS = 10_000;
/** A recurring code lives 13 weeks from its start date. */
export const RECURRING_LIFE_DAYS = 91;
/** One-time and erase codes live 24 h: modulus = life + lead + 1. */
export const ONE_DAY_MODULUS = ACTIVATION_HOURS + HOUR_LEAD + 1;

/**
 * The weekday sets a recurring code can name: TTLock's ten cyclic sets plus the three
 * most asked-for alternating ones. A full 7-bit mask does not fit six digits together
 * with whole-hour windows and a 13-week life (127 x 553 x 93 > 10^6).
 */
export const DAY_SETS: readonly (readonly Weekday[])[] = [
  ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  ['mon', 'tue', 'wed', 'thu', 'fri'],
  ['sat', 'sun'],
  ['mon'],
  ['tue'],
  ['wed'],
  ['thu'],
  ['fri'],
  ['sat'],
  ['sun'],
  ['mon', 'wed', 'fri'],
  ['tue', 'thu'],
  ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
];

/**
 * Daily windows of a recurring code: from-hour 0..23 and to-hour 1..24, to != from
 * (to < from runs past midnight), in this order: 553 pairs.
 */
export const WINDOWS: readonly (readonly [from: number, to: number])[] = (() => {
  const out: Array<[number, number]> = [];
  for (let from = 0; from < 24; from++) {
    for (let to = 1; to <= 24; to++) if (to !== from) out.push([from, to]);
  }
  return out;
})();

const RECURRING_MODULUS = RECURRING_LIFE_DAYS + DAY_LEAD + 1;

export type AnchorUnit = 'hour' | 'day';

interface KindRange {
  kind: OfflineKind;
  unit: AnchorUnit;
  lead: number;
  base: number;
  size: number;
}

/** What a header value names: everything but the anchor's high part. */
export interface HeaderSlot {
  kind: OfflineKind;
  unit: AnchorUnit;
  /** hours (hourly), days (daily), packed day set and window (recurring), else 0. */
  param: number;
  residue: number;
  modulus: number;
  lead: number;
}

/** Sizes of the per-parameter blocks: hourly d uses d + 25 anchors, daily n uses n + 2. */
const hourlyModulus = (hours: number) => hours + HOUR_LEAD + 1;
const dailyModulus = (days: number) => days + DAY_LEAD + 1;

/** out[i] is where block i starts when block j has `modulus(j)` anchors; out[count] is the total. */
export function offsets(count: number, modulus: (index: number) => number): Int32Array {
  const out = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) out[i + 1] = out[i]! + modulus(i);
  return out;
}

/** HOURLY_OFFSETS[d - 1] is where hourly d's block starts inside the hourly range. */
const HOURLY_OFFSETS = offsets(MAX_HOURS, (i) => hourlyModulus(i + 1));
const DAILY_OFFSETS = offsets(MAX_DAYS, (i) => dailyModulus(i + 1));

const RANGES: KindRange[] = (() => {
  const sizes: Array<[OfflineKind, AnchorUnit, number, number]> = [
    ['one_time', 'hour', HOUR_LEAD, ONE_DAY_MODULUS],
    ['erase', 'hour', HOUR_LEAD, ONE_DAY_MODULUS],
    ['permanent', 'day', DAY_LEAD, PERMANENT_MODULUS],
    ['daily', 'day', DAY_LEAD, DAILY_OFFSETS[MAX_DAYS]!],
    ['hourly', 'hour', HOUR_LEAD, HOURLY_OFFSETS[MAX_HOURS]!],
    ['recurring', 'day', DAY_LEAD, DAY_SETS.length * WINDOWS.length * RECURRING_MODULUS],
  ];
  let base = 0;
  return sizes.map(([kind, unit, lead, size]) => {
    const range = { kind, unit, lead, base, size };
    base += size;
    return range;
  });
})();

/** Header values from here up name nothing and never verify. */
export const HEADER_USED = RANGES[RANGES.length - 1]!.base + RANGES[RANGES.length - 1]!.size;
if (HEADER_USED > HEADER_VALUES) throw new Error('offline header layout overflows six digits');

/** The layout table, for the spec and the vectors file. */
export function headerRanges(): ReadonlyArray<{
  kind: OfflineKind;
  unit: AnchorUnit;
  base: number;
  size: number;
}> {
  return RANGES.map(({ kind, unit, base, size }) => ({ kind, unit, base, size }));
}

const rangeOf = (kind: OfflineKind) => RANGES.find((range) => range.kind === kind)!;

/** Recurring param: day set in bits 16-23, from-hour in 8-15, to-hour in 0-7. */
export function packRecurring(daySet: number, from: number, to: number): number {
  return (daySet << 16) | (from << 8) | to;
}

export function unpackRecurring(param: number): { daySet: number; from: number; to: number } {
  return { daySet: param >>> 16, from: (param >>> 8) & 0xff, to: param & 0xff };
}

const WINDOW_INDEX = new Map(WINDOWS.map(([from, to], index) => [from * 100 + to, index]));

export const mod = (a: number, m: number) => ((a % m) + m) % m;

/** The modulus and block offset a (kind, param) pair uses; undefined when param is out of range. */
function block(kind: OfflineKind, param: number): { offset: number; modulus: number } | undefined {
  switch (kind) {
    case 'one_time':
    case 'erase':
      return param === 0 ? { offset: 0, modulus: ONE_DAY_MODULUS } : undefined;
    case 'permanent':
      return param === 0 ? { offset: 0, modulus: PERMANENT_MODULUS } : undefined;
    case 'hourly':
      return Number.isInteger(param) && param >= 1 && param <= MAX_HOURS
        ? { offset: HOURLY_OFFSETS[param - 1]!, modulus: hourlyModulus(param) }
        : undefined;
    case 'daily':
      return Number.isInteger(param) && param >= 1 && param <= MAX_DAYS
        ? { offset: DAILY_OFFSETS[param - 1]!, modulus: dailyModulus(param) }
        : undefined;
    case 'recurring': {
      const { daySet, from, to } = unpackRecurring(param);
      const window = WINDOW_INDEX.get(from * 100 + to);
      if (daySet >= DAY_SETS.length || window === undefined) return undefined;
      return { offset: (daySet * WINDOWS.length + window) * RECURRING_MODULUS, modulus: RECURRING_MODULUS };
    }
  }
}

/** The header value for a code of `kind` with `param` anchored at `anchor` (hour or day number). */
export function encodeHeader(kind: OfflineKind, param: number, anchor: number): number {
  const b = block(kind, param);
  if (!b) throw new RangeError(`param ${param} is out of range for kind ${kind}`);
  if (!Number.isSafeInteger(anchor) || anchor < 0)
    throw new RangeError('anchor must be a non-negative integer');
  return rangeOf(kind).base + b.offset + mod(anchor, b.modulus);
}

/** Largest index i <= `last` with table[i] <= value (table ascending, table[0] = 0). */
export function floorIndex(table: Int32Array, value: number, last = table.length - 1): number {
  let low = 0;
  let high = last;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (table[mid]! <= value) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** What a header value names, or undefined for the unused values at the top. */
export function decodeHeader(header: number): HeaderSlot | undefined {
  if (!Number.isInteger(header) || header < 0 || header >= HEADER_USED) return undefined;
  let range = RANGES[0]!;
  for (const candidate of RANGES) if (header >= candidate.base) range = candidate;
  const within = header - range.base;
  let param = 0;
  let modulus = range.size;
  let residue = within;
  if (range.kind === 'hourly') {
    const index = floorIndex(HOURLY_OFFSETS, within);
    param = index + 1;
    modulus = hourlyModulus(param);
    residue = within - HOURLY_OFFSETS[index]!;
  } else if (range.kind === 'daily') {
    const index = floorIndex(DAILY_OFFSETS, within);
    param = index + 1;
    modulus = dailyModulus(param);
    residue = within - DAILY_OFFSETS[index]!;
  } else if (range.kind === 'recurring') {
    const pair = Math.floor(within / RECURRING_MODULUS);
    const [from, to] = WINDOWS[pair % WINDOWS.length]!;
    param = packRecurring(Math.floor(pair / WINDOWS.length), from, to);
    modulus = RECURRING_MODULUS;
    residue = within % RECURRING_MODULUS;
  }
  return { kind: range.kind, unit: range.unit, param, residue, modulus, lead: range.lead };
}

/**
 * The one anchor a header can mean at reference unit `now` (hour index or local day
 * number): the A = residue (mod modulus) in [now + lead - modulus + 1, now + lead].
 * No search: every code is usable only inside that range, so A is unique.
 */
export function rebuildAnchor(slot: HeaderSlot, now: number): number {
  const top = now + slot.lead;
  return top - mod(top - slot.residue, slot.modulus);
}
