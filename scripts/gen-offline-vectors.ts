import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DateTime } from 'luxon';
import { decide } from '../firmware/access/decide.ts';
import {
  DEVICE_KDF_SALT,
  deriveOfflineKey,
  deriveOfflineKeyV2,
  offlineKeyInfo,
  offlineKeyInfoV2,
  offlineMac,
  v2CodeLength,
  verifyOfflineCode,
} from '../firmware/access/offline.ts';
import { offlineCredential, offlineWindow } from '../firmware/access/offline-credential.ts';
import { issueOfflineCode, type OfflineRequest, planOfflineCode } from '../firmware/access/offline-issue.ts';
import {
  DAY_SETS,
  encodeHeader,
  HEADER_MULTIPLIER,
  HEADER_OFFSET,
  HEADER_USED,
  headerRanges,
  KIND_CODE,
  WINDOWS,
} from '../firmware/access/offline-layout.ts';
import {
  encodeHeaderV2,
  headerRangesV2,
  unpackV2,
  V2_HEADER_MULTIPLIER,
  V2_HEADER_OFFSET,
  V2_HEADER_USED,
  V2_PERIOD_DAYS,
  V2_VARIANTS,
} from '../firmware/access/offline-layout-v2.ts';

/**
 * Builds docs/offline-code-vectors.json: known answers for another implementation of
 * the format (a cloud in another language), both directions. Run with
 * `npx tsx scripts/gen-offline-vectors.ts`; test/access/offline-vectors.test.ts checks
 * the file still matches this implementation.
 */

export const VECTORS_PATH = new URL('../docs/offline-code-vectors.json', import.meta.url);

/** A published test secret: never a real lock's. */
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const GRACE_MS = 120_000;

interface IssueCase {
  name: string;
  request: OfflineRequest;
  timezone: string;
  now: string;
  keyVersion: number;
  length: number;
}

const ISSUE_CASES: IssueCase[] = [
  { name: 'one_time', request: { kind: 'one_time', start: '2026-06-10T15:00:00+02:00' } },
  { name: 'hourly 72 h', request: { kind: 'hourly', start: '2026-06-10T15:00:00+02:00', hours: 72 } },
  { name: 'hourly 1 h', request: { kind: 'hourly', start: '2026-06-10T09:00:00Z', hours: 1 } },
  { name: 'hourly 672 h', request: { kind: 'hourly', start: '2026-06-11T00:00:00Z', hours: 672 } },
  { name: 'daily 30 days', request: { kind: 'daily', start: '2026-06-10', days: 30 } },
  {
    name: 'daily across spring-forward',
    request: { kind: 'daily', start: '2026-03-28', days: 2 },
    now: '2026-03-27T12:00:00Z',
  },
  { name: 'daily 367 days', request: { kind: 'daily', start: '2026-06-11', days: 367 } },
  { name: 'permanent', request: { kind: 'permanent', start: '2026-06-10' } },
  {
    name: 'recurring Tue/Thu 10-12',
    request: {
      kind: 'recurring',
      start: '2026-06-09',
      daysOfWeek: ['tue', 'thu'],
      from: '10:00',
      to: '12:00',
    },
  },
  {
    name: 'recurring overnight weekend',
    request: {
      kind: 'recurring',
      start: '2026-06-12',
      daysOfWeek: ['sat', 'sun'],
      from: '22:00',
      to: '06:00',
    },
  },
  { name: 'erase', request: { kind: 'erase', start: '2026-06-10T10:00:00Z' } },
  {
    name: 'key version 2',
    request: { kind: 'hourly', start: '2026-06-10T15:00:00+02:00', hours: 72 },
    keyVersion: 2,
  },
  {
    name: 'length 13',
    request: { kind: 'hourly', start: '2026-06-10T15:00:00+02:00', hours: 72 },
    length: 13,
  },
  { name: 'length 16', request: { kind: 'permanent', start: '2026-06-10' }, length: 16 },
  {
    name: 'New York daily',
    request: { kind: 'daily', start: '2026-11-01', days: 3 },
    timezone: 'America/New_York',
    now: '2026-10-31T12:00:00Z',
  },
].map((c) => ({ timezone: 'Europe/Berlin', now: '2026-06-10T08:00:00Z', keyVersion: 1, length: 12, ...c }));

const REFUSE_CASES: Array<{ name: string; request: OfflineRequest; now: string }> = [
  { name: 'hours 0', request: { kind: 'hourly', start: '2026-06-10T15:00:00Z', hours: 0 } },
  { name: 'hours 673', request: { kind: 'hourly', start: '2026-06-10T15:00:00Z', hours: 673 } },
  { name: 'days 368', request: { kind: 'daily', start: '2026-06-10', days: 368 } },
  { name: 'start too far ahead', request: { kind: 'one_time', start: '2027-06-12T00:00:00Z' } },
  {
    name: 'start too far in the past',
    request: { kind: 'hourly', start: '2026-06-08T00:00:00Z', hours: 100 },
  },
  { name: 'not a whole hour', request: { kind: 'one_time', start: '2026-06-10T15:30:00Z' } },
  { name: 'daily not at midnight', request: { kind: 'daily', start: '2026-06-10T15:00:00+02:00', days: 2 } },
  {
    name: 'day set without encoding',
    request: {
      kind: 'recurring',
      start: '2026-06-10',
      daysOfWeek: ['mon', 'thu'],
      from: '10:00',
      to: '12:00',
    },
  },
  {
    name: 'window not whole hours',
    request: { kind: 'recurring', start: '2026-06-10', daysOfWeek: ['tue'], from: '10:30', to: '12:00' },
  },
  { name: 'hours on a daily code', request: { kind: 'daily', start: '2026-06-10', days: 2, hours: 5 } },
  { name: 'unknown kind', request: { kind: 'weekly', start: '2026-06-10' } },
].map((c) => ({ now: '2026-06-10T08:00:00Z', ...c }));

interface ValidateCase {
  name: string;
  /** Which issue case the code comes from, or literal digits. */
  from?: string;
  digits?: string;
  at: string;
  clockTrusted?: boolean;
  activatedAt?: string;
  uses?: number;
  revoked?: boolean;
  keyVersion?: number;
}

const VALIDATE_CASES: ValidateCase[] = [
  { name: 'one_time inside its day', from: 'one_time', at: '2026-06-10T16:10:00+02:00' },
  {
    name: 'one_time used once already',
    from: 'one_time',
    at: '2026-06-10T18:00:00+02:00',
    activatedAt: '2026-06-10T16:10:00+02:00',
    uses: 1,
  },
  { name: 'one_time 2 h early', from: 'one_time', at: '2026-06-10T13:00:00+02:00' },
  {
    name: 'one_time 24 h 1 min after start (grace 2 min)',
    from: 'one_time',
    at: '2026-06-11T15:01:00+02:00',
  },
  { name: 'one_time 24 h 30 min after start', from: 'one_time', at: '2026-06-11T15:30:00+02:00' },
  {
    name: 'one_time 26 h after start (anchor out of range)',
    from: 'one_time',
    at: '2026-06-11T17:00:00+02:00',
  },
  { name: 'hourly first use inside 24 h', from: 'hourly 72 h', at: '2026-06-11T10:00:00+02:00' },
  { name: 'hourly first use after 24 h', from: 'hourly 72 h', at: '2026-06-12T10:00:00+02:00' },
  {
    name: 'hourly activated, day 2',
    from: 'hourly 72 h',
    at: '2026-06-12T10:00:00+02:00',
    activatedAt: '2026-06-10T16:00:00+02:00',
    uses: 1,
  },
  {
    name: 'hourly activated, end + 1 min',
    from: 'hourly 72 h',
    at: '2026-06-13T15:01:00+02:00',
    activatedAt: '2026-06-10T16:00:00+02:00',
    uses: 3,
  },
  {
    name: 'hourly activated, end + 3 min',
    from: 'hourly 72 h',
    at: '2026-06-13T15:03:00+02:00',
    activatedAt: '2026-06-10T16:00:00+02:00',
    uses: 3,
  },
  { name: 'hourly revoked', from: 'hourly 72 h', at: '2026-06-11T10:00:00+02:00', revoked: true },
  {
    name: 'hourly, clock untrusted',
    from: 'hourly 72 h',
    at: '2026-06-11T10:00:00+02:00',
    clockTrusted: false,
  },
  {
    name: 'hourly under the next key version',
    from: 'hourly 72 h',
    at: '2026-06-11T10:00:00+02:00',
    keyVersion: 2,
  },
  { name: 'daily the day before', from: 'daily 30 days', at: '2026-06-09T20:00:00+02:00' },
  { name: 'daily first day', from: 'daily 30 days', at: '2026-06-10T20:00:00+02:00' },
  {
    name: 'daily day 20, activated',
    from: 'daily 30 days',
    at: '2026-06-29T20:00:00+02:00',
    activatedAt: '2026-06-10T20:00:00+02:00',
    uses: 1,
  },
  { name: 'daily day 20, never used', from: 'daily 30 days', at: '2026-06-29T20:00:00+02:00' },
  {
    name: 'daily after its last day',
    from: 'daily 30 days',
    at: '2026-07-10T00:30:00+02:00',
    activatedAt: '2026-06-10T20:00:00+02:00',
    uses: 9,
  },
  {
    name: 'daily DST: 23-hour first day, 23:30',
    from: 'daily across spring-forward',
    at: '2026-03-29T23:30:00+02:00',
    activatedAt: '2026-03-28T10:00:00+01:00',
    uses: 1,
  },
  {
    name: 'permanent activated years later',
    from: 'permanent',
    at: '2031-02-03T04:05:00+01:00',
    activatedAt: '2026-06-10T09:00:00+02:00',
    uses: 40,
  },
  {
    name: 'permanent activated, clock untrusted',
    from: 'permanent',
    at: '2026-07-01T09:00:00+02:00',
    activatedAt: '2026-06-10T09:00:00+02:00',
    uses: 2,
    clockTrusted: false,
  },
  {
    name: 'permanent not activated, clock untrusted',
    from: 'permanent',
    at: '2026-06-10T09:00:00+02:00',
    clockTrusted: false,
  },
  { name: 'permanent not activated on day 2', from: 'permanent', at: '2026-06-11T09:00:00+02:00' },
  { name: 'recurring Tuesday 11:00', from: 'recurring Tue/Thu 10-12', at: '2026-06-16T11:00:00+02:00' },
  { name: 'recurring Wednesday 11:00', from: 'recurring Tue/Thu 10-12', at: '2026-06-17T11:00:00+02:00' },
  {
    name: 'recurring Thursday 12:01 (grace)',
    from: 'recurring Tue/Thu 10-12',
    at: '2026-06-18T12:01:00+02:00',
  },
  { name: 'recurring after 13 weeks', from: 'recurring Tue/Thu 10-12', at: '2026-09-08T11:00:00+02:00' },
  {
    name: 'recurring overnight, Sunday 05:00',
    from: 'recurring overnight weekend',
    at: '2026-06-14T05:00:00+02:00',
  },
  {
    name: 'recurring overnight, Monday 05:00',
    from: 'recurring overnight weekend',
    at: '2026-06-15T05:00:00+02:00',
  },
  { name: 'erase', from: 'erase', at: '2026-06-10T12:30:00Z' },
  { name: 'length 13 code', from: 'length 13', at: '2026-06-11T10:00:00+02:00' },
  { name: 'New York daily, day 1 (DST ends)', from: 'New York daily', at: '2026-11-01T23:30:00-05:00' },
  { name: 'random digits', digits: '314159265358', at: '2026-06-11T10:00:00+02:00' },
];

/** Version 2 (docs/offline-codes.md, "Version 2"): every kind, and the DST and zone cases. */
const ISSUE_CASES_V2: IssueCase[] = [
  {
    name: 'v2 one_time India 15:00, variant 0',
    request: { version: 2, kind: 'one_time', start: '2026-06-10T15:00' },
    timezone: 'Asia/Kolkata',
  },
  {
    name: 'v2 one_time India 15:00, variant 4',
    request: { version: 2, kind: 'one_time', start: '2026-06-10T15:00', variant: 4 },
    timezone: 'Asia/Kolkata',
  },
  {
    name: 'v2 hourly 3 h, variant 2',
    request: { version: 2, kind: 'hourly', start: '2026-06-10T18:00+02:00', hours: 3, variant: 2 },
  },
  {
    name: 'v2 hourly 672 h',
    request: { version: 2, kind: 'hourly', start: '2026-06-11', hours: 672 },
  },
  {
    name: 'v2 stay 15:00 to 11:00, 3 days',
    request: { version: 2, kind: 'daily', start: '2026-06-12', checkIn: '15:00', checkOut: '11:00', days: 3 },
  },
  {
    name: 'v2 stay 15:00 to 11:00, 3 days, variant 1',
    request: {
      version: 2,
      kind: 'daily',
      start: '2026-06-12',
      checkIn: '15:00',
      checkOut: '11:00',
      days: 3,
      variant: 1,
    },
  },
  {
    name: 'v2 stay 367 days',
    request: {
      version: 2,
      kind: 'daily',
      start: '2026-06-11',
      checkIn: '14:00',
      checkOut: '10:00',
      days: 367,
    },
  },
  {
    name: 'v2 stay from a date-time, midnight check-out',
    request: { version: 2, kind: 'daily', start: '2026-06-10T16:00', days: 2 },
  },
  {
    name: 'v2 stay check-in 02:00 on the fall-back night',
    request: { version: 2, kind: 'daily', start: '2026-10-25', checkIn: '02:00', checkOut: '11:00', days: 1 },
    now: '2026-10-24T12:00:00Z',
  },
  {
    name: 'v2 stay check-in 02:00 in the spring-forward gap',
    request: { version: 2, kind: 'daily', start: '2026-03-29', checkIn: '02:00', checkOut: '02:00', days: 1 },
    now: '2026-03-28T12:00:00Z',
  },
  {
    name: 'v2 permanent from 10:00, variant 2',
    request: { version: 2, kind: 'permanent', start: '2026-06-10T10:00', variant: 2 },
  },
  {
    name: 'v2 recurring Mon/Thu 09-13, 52 weeks',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08',
      daysOfWeek: ['mon', 'thu'],
      from: '09:00',
      to: '13:00',
      weeks: 52,
    },
  },
  {
    name: 'v2 recurring Fri/Sat overnight, 4 weeks, variant 2',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-12',
      daysOfWeek: 'fri,sat',
      from: '22:00',
      to: '06:00',
      weeks: 4,
      variant: 2,
    },
  },
  { name: 'v2 erase', request: { version: 2, kind: 'erase', start: '2026-06-10T12:00' } },
  {
    name: 'v2 key version 2',
    request: { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 5 },
    keyVersion: 2,
  },
  {
    name: 'v2 length 16 (19 digits)',
    request: { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 5 },
    length: 16,
  },
].map((c) => ({ timezone: 'Europe/Berlin', now: '2026-06-10T08:00:00Z', keyVersion: 1, length: 12, ...c }));

const REFUSE_CASES_V2: Array<{ name: string; request: OfflineRequest; now: string; timezone: string }> = [
  { name: 'version 3', request: { version: 3, kind: 'one_time', start: '2026-06-10T15:00' } },
  {
    name: 'variant on a version 1 code',
    request: { kind: 'one_time', start: '2026-06-10T15:00+02:00', variant: 1 },
  },
  {
    name: 'check-in on a version 1 code',
    request: { kind: 'daily', start: '2026-06-12', days: 3, checkIn: '15:00' },
  },
  {
    name: 'one_time variant 5',
    request: { version: 2, kind: 'one_time', start: '2026-06-10T15:00', variant: 5 },
  },
  {
    name: 'daily variant 3',
    request: { version: 2, kind: 'daily', start: '2026-06-12', days: 3, variant: 3 },
  },
  { name: 'erase variant 1', request: { version: 2, kind: 'erase', start: '2026-06-10T15:00', variant: 1 } },
  { name: 'v2 hours 673', request: { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 673 } },
  { name: 'v2 days 368', request: { version: 2, kind: 'daily', start: '2026-06-12', days: 368 } },
  {
    name: 'check-in not a whole hour',
    request: { version: 2, kind: 'daily', start: '2026-06-12', days: 3, checkIn: '15:30' },
  },
  {
    name: 'check-out 24:00',
    request: { version: 2, kind: 'daily', start: '2026-06-12', days: 3, checkOut: '24:00' },
  },
  {
    name: 'check-in with a date-time start',
    request: { version: 2, kind: 'daily', start: '2026-06-12T15:00', days: 3, checkIn: '15:00' },
  },
  {
    name: 'check-out on an hourly code',
    request: { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 3, checkOut: '11:00' },
  },
  {
    name: 'start not a whole local hour (India)',
    request: { version: 2, kind: 'hourly', start: '2026-06-10T15:00:00Z', hours: 3 },
    timezone: 'Asia/Kolkata',
  },
  {
    name: 'second 02:00 of the fall-back night',
    request: { version: 2, kind: 'hourly', start: '2026-10-25T02:00+01:00', hours: 3 },
    now: '2026-10-24T12:00:00Z',
  },
  {
    name: 'recurring without weekdays',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08',
      daysOfWeek: [],
      from: '09:00',
      to: '13:00',
      weeks: 4,
    },
  },
  {
    name: 'recurring weeks 6',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08',
      daysOfWeek: ['mon'],
      from: '09:00',
      to: '13:00',
      weeks: 6,
    },
  },
  {
    name: 'recurring weeks 56',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08',
      daysOfWeek: ['mon'],
      from: '09:00',
      to: '13:00',
      weeks: 56,
    },
  },
  {
    name: 'recurring without weeks',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08',
      daysOfWeek: ['mon'],
      from: '09:00',
      to: '13:00',
    },
  },
  {
    name: 'recurring not at midnight',
    request: {
      version: 2,
      kind: 'recurring',
      start: '2026-06-08T09:00',
      daysOfWeek: ['mon'],
      from: '09:00',
      to: '13:00',
      weeks: 4,
    },
  },
  {
    name: 'v2 stay activation deadline passed',
    request: { version: 2, kind: 'daily', start: '2026-06-08', checkIn: '15:00', days: 5 },
  },
  {
    name: 'v2 start too far ahead',
    request: { version: 2, kind: 'permanent', start: '2027-06-12T10:00' },
  },
].map((c) => ({ now: '2026-06-10T08:00:00Z', timezone: 'Europe/Berlin', ...c }));

const STAY = 'v2 stay 15:00 to 11:00, 3 days';
const VALIDATE_CASES_V2: ValidateCase[] = [
  {
    name: 'v2 one_time India at 15:10 local',
    from: 'v2 one_time India 15:00, variant 0',
    at: '2026-06-10T15:10:00+05:30',
  },
  {
    name: 'v2 one_time variant 0 used once already',
    from: 'v2 one_time India 15:00, variant 0',
    at: '2026-06-10T15:20:00+05:30',
    activatedAt: '2026-06-10T15:10:00+05:30',
    uses: 1,
  },
  {
    name: 'v2 one_time variant 4 after variant 0 was used',
    from: 'v2 one_time India 15:00, variant 4',
    at: '2026-06-10T15:20:00+05:30',
  },
  {
    name: 'v2 one_time India at 14:55 local',
    from: 'v2 one_time India 15:00, variant 0',
    at: '2026-06-10T14:55:00+05:30',
  },
  { name: 'v2 hourly inside its 3 h', from: 'v2 hourly 3 h, variant 2', at: '2026-06-10T20:30:00+02:00' },
  {
    name: 'v2 hourly 3 min after its end',
    from: 'v2 hourly 3 h, variant 2',
    at: '2026-06-10T21:03:00+02:00',
  },
  { name: 'v2 stay the day before', from: STAY, at: '2026-06-11T20:00:00+02:00' },
  { name: 'v2 stay arrival day 14:00, before check-in', from: STAY, at: '2026-06-12T14:00:00+02:00' },
  { name: 'v2 stay at check-in 15:00', from: STAY, at: '2026-06-12T15:00:00+02:00' },
  { name: 'v2 stay first use at 01:00 the next day', from: STAY, at: '2026-06-13T01:00:00+02:00' },
  { name: 'v2 stay first use 25 h after check-in', from: STAY, at: '2026-06-13T16:00:00+02:00' },
  {
    name: 'v2 stay activated, day 2',
    from: STAY,
    at: '2026-06-14T12:00:00+02:00',
    activatedAt: '2026-06-12T16:00:00+02:00',
    uses: 2,
  },
  {
    name: 'v2 stay activated, departure 10:59',
    from: STAY,
    at: '2026-06-15T10:59:00+02:00',
    activatedAt: '2026-06-12T16:00:00+02:00',
    uses: 5,
  },
  {
    name: 'v2 stay activated, departure 11:01 (grace)',
    from: STAY,
    at: '2026-06-15T11:01:00+02:00',
    activatedAt: '2026-06-12T16:00:00+02:00',
    uses: 5,
  },
  {
    name: 'v2 stay activated, departure 11:03',
    from: STAY,
    at: '2026-06-15T11:03:00+02:00',
    activatedAt: '2026-06-12T16:00:00+02:00',
    uses: 5,
  },
  {
    name: 'v2 stay activated, a day after departure',
    from: STAY,
    at: '2026-06-16T12:00:00+02:00',
    activatedAt: '2026-06-12T16:00:00+02:00',
    uses: 5,
  },
  { name: 'v2 stay revoked', from: STAY, at: '2026-06-12T16:00:00+02:00', revoked: true },
  { name: 'v2 stay, clock untrusted', from: STAY, at: '2026-06-12T16:00:00+02:00', clockTrusted: false },
  { name: 'v2 stay under the next key version', from: STAY, at: '2026-06-12T16:00:00+02:00', keyVersion: 2 },
  {
    name: 'v2 stay variant 1 at check-in',
    from: 'v2 stay 15:00 to 11:00, 3 days, variant 1',
    at: '2026-06-12T15:30:00+02:00',
  },
  {
    name: 'v2 stay 367 days, activated, last morning',
    from: 'v2 stay 367 days',
    at: '2027-06-13T09:00:00+02:00',
    activatedAt: '2026-06-11T15:00:00+02:00',
    uses: 100,
  },
  {
    name: 'v2 stay from a date-time, next day 23:59',
    from: 'v2 stay from a date-time, midnight check-out',
    at: '2026-06-11T23:59:00+02:00',
    activatedAt: '2026-06-10T16:30:00+02:00',
    uses: 1,
  },
  {
    name: 'v2 fall-back check-in: first 02:30 (CEST)',
    from: 'v2 stay check-in 02:00 on the fall-back night',
    at: '2026-10-25T02:30:00+02:00',
  },
  {
    name: 'v2 fall-back check-in: 01:30 CEST, before it',
    from: 'v2 stay check-in 02:00 on the fall-back night',
    at: '2026-10-25T01:30:00+02:00',
  },
  {
    name: 'v2 spring gap check-in: 03:01 CEST',
    from: 'v2 stay check-in 02:00 in the spring-forward gap',
    at: '2026-03-29T03:01:00+02:00',
  },
  {
    name: 'v2 permanent activated, clock untrusted',
    from: 'v2 permanent from 10:00, variant 2',
    at: '2027-01-01T10:00:00+01:00',
    activatedAt: '2026-06-10T10:30:00+02:00',
    uses: 3,
    clockTrusted: false,
  },
  {
    name: 'v2 permanent first use after 24 h',
    from: 'v2 permanent from 10:00, variant 2',
    at: '2026-06-11T10:03:00+02:00',
  },
  {
    name: 'v2 recurring Monday 10:00',
    from: 'v2 recurring Mon/Thu 09-13, 52 weeks',
    at: '2026-06-15T10:00:00+02:00',
  },
  {
    name: 'v2 recurring Tuesday 10:00',
    from: 'v2 recurring Mon/Thu 09-13, 52 weeks',
    at: '2026-06-16T10:00:00+02:00',
  },
  {
    name: 'v2 recurring Thursday 13:01 (grace), week 50',
    from: 'v2 recurring Mon/Thu 09-13, 52 weeks',
    at: '2027-05-20T13:01:00+02:00',
  },
  {
    name: 'v2 recurring Monday after 52 weeks',
    from: 'v2 recurring Mon/Thu 09-13, 52 weeks',
    at: '2027-06-07T10:00:00+02:00',
  },
  {
    name: 'v2 recurring overnight, Sunday 05:00',
    from: 'v2 recurring Fri/Sat overnight, 4 weeks, variant 2',
    at: '2026-06-14T05:00:00+02:00',
  },
  {
    name: 'v2 recurring overnight, Monday 05:00',
    from: 'v2 recurring Fri/Sat overnight, 4 weeks, variant 2',
    at: '2026-06-15T05:00:00+02:00',
  },
  { name: 'v2 erase', from: 'v2 erase', at: '2026-06-10T12:30:00+02:00' },
  { name: 'v2 length 16 code', from: 'v2 length 16 (19 digits)', at: '2026-06-10T16:00:00+02:00' },
  { name: 'v2 random digits', digits: '271828182845904', at: '2026-06-11T10:00:00+02:00' },
];

const iso = (ms: number | null, zone: string) =>
  ms === null ? null : DateTime.fromMillis(ms, { zone }).toISO();
const ms = (text: string) => DateTime.fromISO(text, { setZone: true }).toMillis();

function issueVector(c: IssueCase) {
  const issued = issueOfflineCode(SECRET, c.keyVersion, c.request, {
    timezone: c.timezone,
    now: ms(c.now),
    length: c.length,
  });
  const key = deriveOfflineKey(SECRET, c.keyVersion, c.length);
  const mac = offlineMac(key, issued.fields);
  const header = encodeHeader(issued.fields.kind, issued.fields.param, issued.fields.anchor);
  return {
    ...c,
    expect: {
      code: issued.code,
      grouped: issued.grouped,
      fingerprint: issued.fingerprint,
      kindByte: KIND_CODE[issued.fields.kind],
      param: issued.fields.param,
      anchor: issued.fields.anchor,
      header,
      printedHeader: issued.code.slice(0, 6),
      counterHex: mac.counterHex,
      macHex: mac.macHex,
      truncated: mac.truncated,
      tag: mac.tag,
      validFrom: iso(issued.validFrom, c.timezone),
      validUntil: iso(issued.validUntil, c.timezone),
      activateBy: iso(issued.activateBy, c.timezone),
      schedule: issued.schedule,
    },
  };
}

function issueVectorV2(c: IssueCase) {
  const issued = issueOfflineCode(SECRET, c.keyVersion, c.request, {
    timezone: c.timezone,
    now: ms(c.now),
    length: c.length,
  });
  const key = deriveOfflineKeyV2(SECRET, c.keyVersion, c.length);
  const mac = offlineMac(key, issued.fields);
  const { kind, param, anchor } = issued.fields;
  return {
    ...c,
    expect: {
      code: issued.code,
      grouped: issued.grouped,
      fingerprint: issued.fingerprint,
      kindByte: KIND_CODE[kind],
      params: unpackV2(kind, param),
      param,
      anchor,
      header: encodeHeaderV2(kind, param, anchor),
      printedHeader: issued.code.slice(0, 9),
      counterHex: mac.counterHex,
      macHex: mac.macHex,
      truncated: mac.truncated,
      tag: mac.tag,
      validFrom: iso(issued.validFrom, c.timezone),
      validUntil: iso(issued.validUntil, c.timezone),
      activateBy: iso(issued.activateBy, c.timezone),
      schedule: issued.schedule,
    },
  };
}

function validateVector(
  c: ValidateCase,
  issued: Map<string, { timezone: string; length: number; keyVersion: number; expect: { code: string } }>,
  version: 1 | 2 = 1,
) {
  const source = c.from ? issued.get(c.from) : undefined;
  if (c.from && !source) throw new Error(`vector ${c.name}: no issue case ${c.from}`);
  const timezone = source?.timezone ?? 'Europe/Berlin';
  const length = source?.length ?? 12;
  const keyVersion = c.keyVersion ?? source?.keyVersion ?? 1;
  const code = c.digits ?? source!.expect.code;
  const at = ms(c.at);
  const clockTrusted = c.clockTrusted ?? true;
  const state = {
    activatedAt: c.activatedAt ? ms(c.activatedAt) : null,
    uses: c.uses ?? 0,
    revoked: c.revoked ?? false,
  };
  const key =
    version === 2
      ? deriveOfflineKeyV2(SECRET, keyVersion, length)
      : deriveOfflineKey(SECRET, keyVersion, length);
  const verified = verifyOfflineCode(key, code, at, timezone);
  const credential = verified
    ? offlineCredential(verified, offlineWindow(verified, timezone), state)
    : undefined;
  const decision = decide({
    entry: code,
    acceptedLengths: { min: 4, max: 10, offline: length, offlineV2: v2CodeLength(length) },
    credential,
    now: at,
    clockTrusted,
    highWater: 0,
    lockedOut: false,
    mode: 'normal',
    timezone,
    graceMs: GRACE_MS,
  });
  return {
    name: c.name,
    code,
    at: c.at,
    timezone,
    keyVersion,
    length,
    clockTrusted,
    state: { activatedAt: c.activatedAt ?? null, uses: state.uses, revoked: state.revoked },
    expect: {
      verifies: verified !== undefined,
      fingerprint: verified?.fingerprint ?? null,
      outcome: decision.outcome,
      reason: decision.outcome === 'denied' ? decision.reason : null,
    },
  };
}

export function buildOfflineVectors() {
  const issue = ISSUE_CASES.map(issueVector);
  const byName = new Map(issue.map((v) => [v.name, v]));
  return {
    format: 'tumbler-offline-code/1',
    spec: 'docs/offline-codes.md',
    note: 'Generated by scripts/gen-offline-vectors.ts. The secret is a published test value, never a real lock.',
    secretHex: Buffer.from(SECRET).toString('hex'),
    kdf: {
      algorithm: 'HKDF-SHA256 (RFC 5869)',
      ikm: 'the 32-byte device secret',
      salt: DEVICE_KDF_SALT,
      info: offlineKeyInfo(0, 0)
        .replace('key-version=0', 'key-version={version}')
        .replace('length=0', 'length={length}'),
      outputBytes: 32,
      keys: [
        [1, 12],
        [2, 12],
        [1, 13],
        [1, 16],
      ].map(([version, length]) => ({
        keyVersion: version!,
        length: length!,
        keyHex: Buffer.from(deriveOfflineKey(SECRET, version!, length!).bytes).toString('hex'),
      })),
    },
    layout: {
      headerDigits: 6,
      headerUsed: HEADER_USED,
      printedHeader: `(header * ${HEADER_MULTIPLIER} + ${HEADER_OFFSET}) mod 1000000`,
      kindBytes: KIND_CODE,
      ranges: headerRanges(),
      daySets: DAY_SETS,
      windowCount: WINDOWS.length,
      graceMs: GRACE_MS,
    },
    issue,
    refuse: REFUSE_CASES.map((c) => {
      const result = planOfflineCode(c.request, { timezone: 'Europe/Berlin', now: ms(c.now) });
      if (result.ok) throw new Error(`refuse vector ${c.name} was accepted`);
      return { ...c, timezone: 'Europe/Berlin', expect: { field: result.field, message: result.message } };
    }),
    validate: VALIDATE_CASES.map((c) => validateVector(c, byName)),
    v2: buildV2Vectors(),
  };
}

function buildV2Vectors() {
  const issue = ISSUE_CASES_V2.map(issueVectorV2);
  const byName = new Map(issue.map((v) => [v.name, v]));
  return {
    format: 'tumbler-offline-code/2',
    note: 'Version 2 codes are the lock length L + 3 digits: 9 header digits, then L - 6 tag digits. `length` below is L.',
    kdf: {
      info: offlineKeyInfoV2(0, 0)
        .replace('key-version=0', 'key-version={version}')
        .replace('length=0', 'length={L + 3}'),
      keys: [
        [1, 12],
        [2, 12],
        [1, 16],
      ].map(([version, length]) => ({
        keyVersion: version!,
        length: length!,
        codeLength: v2CodeLength(length!),
        keyHex: Buffer.from(deriveOfflineKeyV2(SECRET, version!, length!).bytes).toString('hex'),
      })),
    },
    layout: {
      headerDigits: 9,
      headerUsed: V2_HEADER_USED,
      printedHeader: `(header * ${V2_HEADER_MULTIPLIER} + ${V2_HEADER_OFFSET}) mod 1000000000`,
      variants: V2_VARIANTS,
      ranges: headerRangesV2(),
      periodDays: V2_PERIOD_DAYS,
      windowCount: WINDOWS.length,
    },
    issue,
    refuse: REFUSE_CASES_V2.map((c) => {
      const result = planOfflineCode(c.request, { timezone: c.timezone, now: ms(c.now) });
      if (result.ok) throw new Error(`refuse vector ${c.name} was accepted`);
      return { ...c, expect: { field: result.field, message: result.message } };
    }),
    validate: VALIDATE_CASES_V2.map((c) => validateVector(c, byName, 2)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(VECTORS_PATH, `${JSON.stringify(buildOfflineVectors(), null, 2)}\n`);
  // Biome's layout, so `npm run lint` passes on the regenerated file.
  const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));
  execFileSync(biome, ['format', '--write', fileURLToPath(VECTORS_PATH)], { stdio: 'ignore' });
  process.stdout.write(`wrote ${VECTORS_PATH.pathname}\n`);
}
