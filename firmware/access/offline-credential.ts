import type { OfflineFields, VerifiedOfflineCode } from './offline.ts';
import {
  ACTIVATION_HOURS,
  DAY_MS,
  DAY_SETS,
  HOUR_MS,
  RECURRING_LIFE_DAYS,
  unpackRecurring,
  WINDOWS,
} from './offline-layout.ts';
import { maskDays, unpackV2, V2_PERIOD_DAYS } from './offline-layout-v2.ts';
import { localWallTimeToInstant } from './schedule.ts';
import { type Credential, WEEKDAYS, type WeeklySchedule } from './types.ts';

/**
 * What a verified offline code means to the access decision: the window it stands
 * for in the lock's time zone, and the credential decide() judges (with what the
 * lock remembers about it). Pure.
 */

/** The activation rule: first use within 24 h of the start. */
const ACTIVATION_MS = ACTIVATION_HOURS * HOUR_MS;

/** The time a code stands for. Instants are epoch ms. */
export interface OfflineWindow {
  validFrom: number;
  /** End of validity (exclusive); null for permanent codes. */
  validUntil: number | null;
  /** The activation rule: first use before this, else the code is dead. Null for recurring. */
  activateBy: number | null;
  schedule: WeeklySchedule | null;
}

/** Local midnight starting date number `day` in `zone` (DST gap and overlap rules of schedule.ts). */
export function localMidnight(day: number, zone: string, edge: 'start' | 'end'): number {
  const date = new Date(day * DAY_MS);
  return localWallTimeToInstant(
    zone,
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    0,
    edge,
  );
}

/**
 * The instant a version 2 local hour number names in `zone`: the DST rules of
 * schedule.ts (a start takes the first occurrence, an end the second, a time in the
 * spring-forward gap the instant the gap ends).
 */
export function localHourInstant(hourNumber: number, zone: string, edge: 'start' | 'end'): number {
  const day = Math.floor(hourNumber / 24);
  const date = new Date(day * DAY_MS);
  return localWallTimeToInstant(
    zone,
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    (hourNumber - day * 24) * 60,
    edge,
  );
}

const hh = (hour: number) => `${String(hour).padStart(2, '0')}:00`;

export function recurringSchedule(param: number): WeeklySchedule {
  const { daySet, from, to } = unpackRecurring(param);
  return { days: [...DAY_SETS[daySet]!], from: hh(from), to: hh(to) };
}

/** The weekly schedule of a version 2 recurring code (weekdays in WEEKDAYS order). */
export function recurringScheduleV2(param: number): WeeklySchedule {
  const { mask, window } = unpackV2('recurring', param);
  const [from, to] = WINDOWS[window!]!;
  const days = maskDays(mask!);
  return { days: WEEKDAYS.filter((day) => days.includes(day)), from: hh(from), to: hh(to) };
}

/** Version 2 windows: starts on local wall hours, check-out hours, 4-week recurring lives. */
function offlineWindowV2(fields: OfflineFields, zone: string): OfflineWindow {
  const { kind, param, anchor } = fields;
  if (kind === 'recurring') {
    const { periods } = unpackV2(kind, param);
    return {
      validFrom: localMidnight(anchor, zone, 'start'),
      validUntil: localMidnight(anchor + V2_PERIOD_DAYS * periods!, zone, 'end'),
      activateBy: null,
      schedule: recurringScheduleV2(param),
    };
  }
  const from = localHourInstant(anchor, zone, 'start');
  const activateBy = (until: number | null) =>
    until === null ? from + ACTIVATION_MS : Math.min(from + ACTIVATION_MS, until);
  let until: number | null;
  if (kind === 'one_time' || kind === 'erase') until = from + ACTIVATION_MS;
  else if (kind === 'hourly') until = from + unpackV2(kind, param).hours! * HOUR_MS;
  else if (kind === 'daily') {
    const { days, checkOut } = unpackV2(kind, param);
    const endHour = (Math.floor(anchor / 24) + days!) * 24 + checkOut!;
    until = localHourInstant(endHour, zone, 'end');
  } else until = null;
  return { validFrom: from, validUntil: until, activateBy: activateBy(until), schedule: null };
}

export function offlineWindow(fields: OfflineFields, zone: string): OfflineWindow {
  if (fields.version === 2) return offlineWindowV2(fields, zone);
  const activation = (from: number, until: number) => Math.min(from + ACTIVATION_MS, until);
  const { kind, param, anchor } = fields;
  switch (kind) {
    case 'one_time':
    case 'erase': {
      const from = anchor * HOUR_MS;
      const until = from + ACTIVATION_MS;
      return { validFrom: from, validUntil: until, activateBy: until, schedule: null };
    }
    case 'hourly': {
      const from = anchor * HOUR_MS;
      const until = from + param * HOUR_MS;
      return { validFrom: from, validUntil: until, activateBy: activation(from, until), schedule: null };
    }
    // Date-anchored codes activate on their start date: 24 h, or 23/25 on a DST day.
    case 'daily': {
      const from = localMidnight(anchor, zone, 'start');
      const until = localMidnight(anchor + param, zone, 'end');
      return {
        validFrom: from,
        validUntil: until,
        activateBy: localMidnight(anchor + 1, zone, 'end'),
        schedule: null,
      };
    }
    case 'permanent': {
      const from = localMidnight(anchor, zone, 'start');
      return {
        validFrom: from,
        validUntil: null,
        activateBy: localMidnight(anchor + 1, zone, 'end'),
        schedule: null,
      };
    }
    case 'recurring': {
      const from = localMidnight(anchor, zone, 'start');
      const until = localMidnight(anchor + RECURRING_LIFE_DAYS, zone, 'end');
      return { validFrom: from, validUntil: until, activateBy: null, schedule: recurringSchedule(param) };
    }
  }
}

/** What the lock remembers about a code: its first use, how often, and whether it was revoked. */
export interface OfflineUseState {
  activatedAt: number | null;
  uses: number;
  revoked: boolean;
}

export const NEVER_USED: OfflineUseState = { activatedAt: null, uses: 0, revoked: false };

export const offlineCodeName = (fingerprint: string) => `offline:${fingerprint}`;

/**
 * The credential the access decision judges. Kinds map to the stored kinds:
 * hourly and daily to time_bound, permanent to ongoing, erase to one_time.
 * Before its first use a code's end is its activation deadline; once activated it is
 * its real end. An activated permanent code carries no instants at all: nothing about
 * it depends on the clock any more (the untrusted-clock rule in docs/offline-codes.md).
 */
export function offlineCredential(
  code: VerifiedOfflineCode,
  window: OfflineWindow,
  state: OfflineUseState,
): Credential {
  const activated = state.activatedAt !== null;
  const base = {
    id: 0,
    name: offlineCodeName(code.fingerprint),
    role: 'standard' as const,
    enabled: true,
    revoked: state.revoked,
    assigned: true,
    maxUses: null,
    expireAfterFirstUseMin: null,
    uses: state.uses,
    firstUsedAt: state.activatedAt,
    offline: true as const,
  };
  const end = activated ? window.validUntil : window.activateBy;
  switch (code.kind) {
    case 'one_time':
    case 'erase':
      return {
        ...base,
        kind: 'one_time',
        startsAt: window.validFrom,
        endsAt: window.validUntil,
        schedule: null,
      };
    case 'hourly':
    case 'daily':
      return { ...base, kind: 'time_bound', startsAt: window.validFrom, endsAt: end, schedule: null };
    case 'permanent':
      return activated
        ? { ...base, kind: 'ongoing', startsAt: null, endsAt: null, schedule: null }
        : { ...base, kind: 'ongoing', startsAt: window.validFrom, endsAt: end, schedule: null };
    case 'recurring':
      return {
        ...base,
        kind: 'recurring',
        startsAt: window.validFrom,
        endsAt: window.validUntil,
        schedule: window.schedule,
      };
  }
}
