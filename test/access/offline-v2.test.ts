import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decide } from '../../firmware/access/decide.ts';
import {
  deriveOfflineKey,
  deriveOfflineKeyV2,
  localHourNumber,
  verifyOfflineCode,
} from '../../firmware/access/offline.ts';
import { offlineCredential, offlineWindow } from '../../firmware/access/offline-credential.ts';
import {
  type IssuedOfflineCode,
  issueOfflineCode,
  type OfflineRequest,
  planOfflineCode,
} from '../../firmware/access/offline-issue.ts';
import { OFFLINE_KINDS, WINDOWS } from '../../firmware/access/offline-layout.ts';
import {
  decodeHeaderV2,
  encodeHeaderV2,
  packV2,
  unwhitenHeaderV2,
  V2_HEADER_USED,
  V2_HEADER_VALUES,
  V2_VARIANTS,
  whitenHeaderV2,
} from '../../firmware/access/offline-layout-v2.ts';
import { withinSchedule } from '../../firmware/access/schedule.ts';
import { WEEKDAYS } from '../../firmware/access/types.ts';
import { DEFAULT_CONFIG } from '../../firmware/config.ts';

/** Version 2 of the offline-code format: the pure parts (layout, issuer, validator, decision). */

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => 7 * i + 1);
const HOUR = 3_600_000;
const DAY = 86_400_000;
const GRACE = DEFAULT_CONFIG.windowGraceSeconds * 1000;
const KEY = deriveOfflineKeyV2(SECRET, 1);
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
];
const hh = (h: number) => `${String(h).padStart(2, '0')}:00`;
const date = fc
  .integer({ min: 0, max: 720 })
  .map((d) => new Date(Date.UTC(2026, 0, 1) + d * DAY).toISOString().slice(0, 10));
const localHour = fc.tuple(date, fc.integer({ min: 0, max: 23 })).map(([d, h]) => `${d}T${hh(h)}`);

/** Every version 2 kind with any of its parameters. */
const request: fc.Arbitrary<OfflineRequest> = fc.oneof(
  fc.record({
    version: fc.constant(2),
    kind: fc.constant('one_time'),
    start: localHour,
    variant: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({ version: fc.constant(2), kind: fc.constant('erase'), start: localHour }),
  fc.record({
    version: fc.constant(2),
    kind: fc.constant('hourly'),
    start: localHour,
    hours: fc.integer({ min: 1, max: 672 }),
    variant: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    version: fc.constant(2),
    kind: fc.constant('daily'),
    start: date,
    checkIn: fc.integer({ min: 0, max: 23 }).map(hh),
    checkOut: fc.integer({ min: 0, max: 23 }).map(hh),
    days: fc.integer({ min: 1, max: 367 }),
    variant: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    version: fc.constant(2),
    kind: fc.constant('permanent'),
    start: localHour,
    variant: fc.integer({ min: 0, max: 2 }),
  }),
  fc
    .record({
      start: date,
      mask: fc.integer({ min: 1, max: 127 }),
      window: fc.integer({ min: 0, max: WINDOWS.length - 1 }),
      weeks: fc.integer({ min: 1, max: 13 }).map((p) => 4 * p),
      variant: fc.integer({ min: 0, max: 2 }),
    })
    .map(({ start, mask, window, weeks, variant }) => {
      const [from, to] = WINDOWS[window]!;
      return {
        version: 2,
        kind: 'recurring',
        start,
        daysOfWeek: WEEKDAYS.filter((_, bit) => (mask >> bit) & 1),
        from: hh(from),
        to: hh(to),
        weeks,
        variant,
      };
    }),
);

function issue(req: OfflineRequest, zone: string): IssuedOfflineCode | undefined {
  const start = DateTime.fromISO(String(req.start), { zone }).toMillis();
  const plan = planOfflineCode(req, { timezone: zone, now: start - HOUR });
  // A daily code whose check-out falls into a skipped day (none in these zones) or a
  // fall-back second 02:00 cannot be issued; everything else can.
  if (!plan.ok) {
    expect(plan.field).toBe('start');
    return undefined;
  }
  return issueOfflineCode(SECRET, 1, req, { timezone: zone, now: start - HOUR });
}

function judge(code: IssuedOfflineCode, t: number, activatedAt: number | null): string {
  const verified = verifyOfflineCode(KEY, code.code, t, code.timezone);
  const credential = verified
    ? offlineCredential(verified, offlineWindow(verified, code.timezone), {
        activatedAt,
        uses: activatedAt ? 1 : 0,
        revoked: false,
      })
    : undefined;
  const d = decide({
    entry: code.code,
    acceptedLengths: { min: 4, max: 10, offline: 12, offlineV2: 15 },
    credential,
    now: t,
    clockTrusted: true,
    highWater: 0,
    lockedOut: false,
    mode: 'normal',
    timezone: code.timezone,
    graceMs: GRACE,
  });
  return d.outcome === 'granted' ? 'granted' : d.reason;
}

function shouldOpen(code: IssuedOfflineCode, t: number, activated: boolean): boolean {
  const end = activated || code.activateBy === null ? code.validUntil : code.activateBy;
  if (t < code.validFrom - GRACE) return false;
  if (end !== null && t >= end + GRACE) return false;
  if (code.schedule && !withinSchedule(code.schedule, t, code.timezone, GRACE)) return false;
  return true;
}

describe('version 2 header layout', () => {
  it('uses 661,482,612 of the 10^9 nine-digit headers; the printing map is a bijection', () => {
    expect(V2_HEADER_USED).toBe(661_482_612);
    for (const h of [0, 1, 2, 999_999, V2_HEADER_USED - 1, V2_HEADER_USED, V2_HEADER_VALUES - 1]) {
      expect(unwhitenHeaderV2(whitenHeaderV2(h))).toBe(h);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: V2_HEADER_VALUES - 1 }), (h) => {
        const printed = whitenHeaderV2(h);
        expect(printed).toBeGreaterThanOrEqual(0);
        expect(printed).toBeLessThan(V2_HEADER_VALUES);
        expect(unwhitenHeaderV2(printed)).toBe(h);
      }),
      { numRuns: 2000 },
    );
    expect(decodeHeaderV2(V2_HEADER_USED)).toBeUndefined();
    expect(decodeHeaderV2(V2_HEADER_VALUES - 1)).toBeUndefined();
  });

  it('every header decodes to the parameters it was encoded from (every block edge too)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: V2_HEADER_USED - 1 }), (h) => {
        const slot = decodeHeaderV2(h)!;
        expect(slot.residue).toBeLessThan(slot.modulus);
        expect(encodeHeaderV2(slot.kind, slot.param, slot.residue)).toBe(h);
      }),
      { numRuns: 20_000 },
    );
    // The first and last header of every (kind, variant, parameter) block of these samples.
    const params = [
      packV2('one_time', { variant: 4 }),
      packV2('hourly', { variant: 2, hours: 672 }),
      packV2('hourly', { variant: 0, hours: 1 }),
      packV2('daily', { variant: 2, days: 367, checkOut: 23 }),
      packV2('daily', { variant: 0, days: 1, checkOut: 0 }),
      packV2('recurring', { variant: 2, mask: 127, window: WINDOWS.length - 1, periods: 13 }),
      packV2('recurring', { variant: 0, mask: 1, window: 0, periods: 1 }),
    ];
    const kinds = ['one_time', 'hourly', 'hourly', 'daily', 'daily', 'recurring', 'recurring'] as const;
    params.forEach((param, i) => {
      const first = encodeHeaderV2(kinds[i]!, param, 0);
      const slot = decodeHeaderV2(first)!;
      expect(slot).toMatchObject({ kind: kinds[i], param, residue: 0 });
      const last = first + slot.modulus - 1;
      expect(decodeHeaderV2(last)).toMatchObject({ kind: kinds[i], param, residue: slot.modulus - 1 });
    });
    expect(() => encodeHeaderV2('one_time', packV2('one_time', { variant: 5 }), 0)).toThrow(RangeError);
    expect(() => encodeHeaderV2('daily', packV2('daily', { variant: 0, days: 368, checkOut: 0 }), 0)).toThrow(
      RangeError,
    );
  });
});

describe('version 2 codes', () => {
  it('are the lock length + 3 digits, and never verify under the other version', () => {
    const now = Date.parse('2026-06-10T08:00:00Z');
    const v1 = issueOfflineCode(SECRET, 1, { kind: 'hourly', start: '2026-06-10T09:00Z', hours: 5 }, { now });
    const v2 = issueOfflineCode(
      SECRET,
      1,
      { version: 2, kind: 'hourly', start: '2026-06-10T09:00Z', hours: 5 },
      { now },
    );
    expect(v1).toMatchObject({ version: 1, length: 12 });
    expect(v2).toMatchObject({ version: 2, length: 15, variant: 0 });
    expect(v2.code).toHaveLength(15);
    expect(verifyOfflineCode(KEY, v2.code, now + HOUR, 'UTC')).toMatchObject({ version: 2, kind: 'hourly' });
    expect(verifyOfflineCode(KEY, v1.code, now + HOUR, 'UTC')).toBeUndefined();
    expect(verifyOfflineCode(deriveOfflineKey(SECRET, 1), v2.code, now + HOUR, 'UTC')).toBeUndefined();
    // Length 13 locks: version 2 codes are 16 digits under their own key.
    const long = issueOfflineCode(
      SECRET,
      1,
      { version: 2, kind: 'one_time', start: '2026-06-10T09:00Z' },
      { now, length: 13 },
    );
    expect(long.code).toHaveLength(16);
    expect(verifyOfflineCode(deriveOfflineKeyV2(SECRET, 1, 13), long.code, now + HOUR, 'UTC')).toBeDefined();
  });

  it('give every variant of one slot its own digits and fingerprint', () => {
    const now = Date.parse('2026-06-10T08:00:00Z');
    const base: Record<string, OfflineRequest> = {
      one_time: { version: 2, kind: 'one_time', start: '2026-06-10T15:00' },
      erase: { version: 2, kind: 'erase', start: '2026-06-10T15:00' },
      hourly: { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 4 },
      daily: { version: 2, kind: 'daily', start: '2026-06-10', checkIn: '15:00', checkOut: '11:00', days: 2 },
      permanent: { version: 2, kind: 'permanent', start: '2026-06-10T15:00' },
      recurring: {
        version: 2,
        kind: 'recurring',
        start: '2026-06-10',
        daysOfWeek: 'mon,thu',
        from: '09:00',
        to: '13:00',
        weeks: 8,
      },
    };
    for (const kind of OFFLINE_KINDS) {
      const codes = Array.from({ length: V2_VARIANTS[kind] }, (_, variant) =>
        issueOfflineCode(SECRET, 1, { ...base[kind]!, variant }, { timezone: 'Asia/Kolkata', now }),
      );
      expect(new Set(codes.map((c) => c.code)).size).toBe(V2_VARIANTS[kind]);
      expect(new Set(codes.map((c) => c.fingerprint)).size).toBe(V2_VARIANTS[kind]);
      for (const [variant, c] of codes.entries()) {
        expect(c.variant).toBe(variant);
        expect(verifyOfflineCode(KEY, c.code, c.validFrom, 'Asia/Kolkata')?.fingerprint).toBe(c.fingerprint);
      }
      expect(() =>
        issueOfflineCode(SECRET, 1, { ...base[kind]!, variant: V2_VARIANTS[kind] }, { now }),
      ).toThrow(/variant/);
    }
  });

  it('start on a local hour in a half-hour zone (India: 15:00 IST is 09:30Z)', () => {
    const now = Date.parse('2026-06-10T00:00:00Z');
    const code = issueOfflineCode(
      SECRET,
      1,
      { version: 2, kind: 'hourly', start: '2026-06-10T15:00', hours: 2 },
      { timezone: 'Asia/Kolkata', now },
    );
    expect(code.validFrom).toBe(Date.parse('2026-06-10T09:30:00Z'));
    expect(code.fields.anchor).toBe(localHourNumber(code.validFrom, 'Asia/Kolkata'));
    expect(judge(code, Date.parse('2026-06-10T09:25:00Z'), null)).toBe('not_yet_active');
    expect(judge(code, Date.parse('2026-06-10T09:30:00Z'), null)).toBe('granted');
    expect(judge(code, Date.parse('2026-06-10T11:31:00Z'), null)).toBe('granted');
    expect(judge(code, Date.parse('2026-06-10T11:33:00Z'), null)).toBe('expired');
    // Version 1 cannot: its hour codes start on whole UTC hours, :30 in India.
    expect(() =>
      issueOfflineCode(
        SECRET,
        1,
        { kind: 'hourly', start: '2026-06-10T15:00', hours: 2 },
        {
          timezone: 'Asia/Kolkata',
          now,
        },
      ),
    ).toThrow(/whole hour/);
  });

  it('a stay from 15:00 to 11:00: first use up to 24 h after check-in, then until check-out', () => {
    const zone = 'Europe/Berlin';
    const code = issueOfflineCode(
      SECRET,
      1,
      { version: 2, kind: 'daily', start: '2026-07-01', checkIn: '15:00', checkOut: '11:00', days: 7 },
      { timezone: zone, now: Date.parse('2026-06-30T00:00:00Z') },
    );
    const at = (text: string) => DateTime.fromISO(text, { zone }).toMillis();
    expect(code.validFrom).toBe(at('2026-07-01T15:00'));
    expect(code.validUntil).toBe(at('2026-07-08T11:00'));
    expect(code.activateBy).toBe(at('2026-07-02T15:00'));
    expect(judge(code, at('2026-07-01T14:00'), null)).toBe('not_yet_active');
    expect(judge(code, at('2026-07-02T01:00'), null)).toBe('granted');
    expect(judge(code, at('2026-07-02T15:03'), null)).toBe('expired');
    expect(judge(code, at('2026-07-08T10:59'), at('2026-07-02T01:00'))).toBe('granted');
    expect(judge(code, at('2026-07-08T11:03'), at('2026-07-02T01:00'))).toBe('expired');
  });

  it('every single-digit change of a code is refused at a time the code opens', () => {
    const now = Date.parse('2026-06-10T08:00:00Z');
    const zone = 'Europe/Berlin';
    const requests: OfflineRequest[] = [
      { version: 2, kind: 'one_time', start: '2026-06-10T12:00', variant: 3 },
      { version: 2, kind: 'daily', start: '2026-06-10', checkIn: '15:00', checkOut: '11:00', days: 3 },
      {
        version: 2,
        kind: 'recurring',
        start: '2026-06-08',
        daysOfWeek: 'mon,thu',
        from: '00:00',
        to: '24:00',
        weeks: 52,
      },
    ];
    for (const req of requests) {
      const code = issueOfflineCode(SECRET, 1, req, { timezone: zone, now });
      const t = code.validFrom + HOUR;
      expect(verifyOfflineCode(KEY, code.code, t, zone)).toBeDefined();
      for (let i = 0; i < code.code.length; i++) {
        for (let d = 0; d <= 9; d++) {
          if (String(d) === code.code[i]) continue;
          const mutated = code.code.slice(0, i) + d + code.code.slice(i + 1);
          expect(verifyOfflineCode(KEY, mutated, t, zone)).toBeUndefined();
        }
      }
    }
  });
});

describe('property: a version 2 code opens exactly inside its window (± grace), in any zone', () => {
  it('before first use (activation within 24 h of the start)', () => {
    fc.assert(
      fc.property(
        request,
        fc.constantFrom(...ZONES),
        fc.double({ min: -0.2, max: 1.2, noNaN: true }),
        fc.integer({ min: -3, max: 3 }),
        (req, zone, where, edge) => {
          const code = issue(req, zone);
          if (!code) return;
          const end = code.activateBy ?? code.validUntil!;
          const span = end - code.validFrom;
          const t =
            edge === 0
              ? Math.round(code.validFrom + where * span)
              : (edge > 0 ? end : code.validFrom) + Math.sign(edge) * GRACE + (Math.abs(edge) - 2) * 60_000;
          const got = judge(code, t, null);
          expect(got === 'granted').toBe(shouldOpen(code, t, false));
          if (got !== 'granted')
            expect(['not_yet_active', 'expired', 'outside_schedule', 'unknown_code']).toContain(got);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('after first use, through its whole life (the anchor is rebuilt across DST changes)', () => {
    const multi = request.filter((r) => r.kind !== 'one_time' && r.kind !== 'erase');
    fc.assert(
      fc.property(
        multi,
        fc.constantFrom(...ZONES),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1.05, noNaN: true }),
        (req, zone, a, b) => {
          const code = issue(req, zone);
          if (!code) return;
          const activatedAt = Math.round(
            code.validFrom + a * ((code.activateBy ?? code.validFrom + DAY) - code.validFrom),
          );
          const horizon = (code.validUntil ?? code.validFrom + 3000 * DAY) - activatedAt;
          const t = Math.round(activatedAt + b * horizon);
          expect(judge(code, t, activatedAt) === 'granted').toBe(shouldOpen(code, t, true));
          // Until its end plus the tolerance the code always verifies as itself.
          if (code.validUntil === null || t < code.validUntil + GRACE)
            expect(verifyOfflineCode(KEY, code.code, t, zone)?.fingerprint).toBe(code.fingerprint);
        },
      ),
      { numRuns: 600 },
    );
  });

  it('two different requests never share a code or a fingerprint', () => {
    fc.assert(
      fc.property(request, request, fc.constantFrom(...ZONES), (r1, r2, zone) => {
        const a = issue(r1, zone);
        const b = issue(r2, zone);
        if (!a || !b || JSON.stringify(a.fields) === JSON.stringify(b.fields)) return;
        expect(a.fingerprint).not.toBe(b.fingerprint);
        expect(a.code).not.toBe(b.code);
      }),
      { numRuns: 300 },
    );
  });
});
