import type { OfflineFields, VerifiedOfflineCode } from './offline.ts';
import {
  ACTIVATION_HOURS,
  DAY_MS,
  DAY_SETS,
  HOUR_MS,
  RECURRING_LIFE_DAYS,
  unpackRecurring,
} from './offline-layout.ts';
import { localWallTimeToInstant } from './schedule.ts';
import type { Credential, WeeklySchedule } from './types.ts';

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

const hh = (hour: number) => `${String(hour).padStart(2, '0')}:00`;

export function recurringSchedule(param: number): WeeklySchedule {
  const { daySet, from, to } = unpackRecurring(param);
  return { days: [...DAY_SETS[daySet]!], from: hh(from), to: hh(to) };
}

export function offlineWindow(fields: OfflineFields, zone: string): OfflineWindow {
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
