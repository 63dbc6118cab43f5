import { describe, expect, it } from 'vitest';
import { decide } from '../../firmware/access/decide.ts';
import {
  deriveOfflineKey,
  groupCode,
  locateOfflineCode,
  verifyOfflineCode,
} from '../../firmware/access/offline.ts';
import { NEVER_USED, offlineCredential, offlineWindow } from '../../firmware/access/offline-credential.ts';
import {
  issueOfflineCode,
  OfflineRequestError,
  planOfflineCode,
} from '../../firmware/access/offline-issue.ts';
import {
  DAY_SETS,
  decodeHeader,
  encodeHeader,
  HEADER_USED,
  HEADER_VALUES,
  headerRanges,
  rebuildAnchor,
  unwhitenHeader,
  WINDOWS,
  whitenHeader,
} from '../../firmware/access/offline-layout.ts';
import { deriveDeviceKeys } from '../../firmware/provisioning.ts';

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i);
const ZONE = 'Europe/Berlin';
const NOW = Date.parse('2026-06-10T08:00:00Z');
const HOUR = 3_600_000;

describe('header layout', () => {
  it('fits six digits with room to spare, ranges back to back', () => {
    const ranges = headerRanges();
    expect(ranges.map((r) => r.kind)).toEqual([
      'one_time',
      'erase',
      'permanent',
      'daily',
      'hourly',
      'recurring',
    ]);
    for (let i = 1; i < ranges.length; i++)
      expect(ranges[i]!.base).toBe(ranges[i - 1]!.base + ranges[i - 1]!.size);
    expect(HEADER_USED).toBe(989_865);
    expect(HEADER_USED).toBeLessThanOrEqual(HEADER_VALUES);
    expect(WINDOWS).toHaveLength(553);
    expect(DAY_SETS).toHaveLength(13);
  });

  it('decodes every used header value and encodes it back (a bijection onto the used range)', () => {
    for (let header = 0; header < HEADER_USED; header++) {
      const slot = decodeHeader(header)!;
      // Any anchor with the slot's residue encodes to the same header.
      const anchor = 500_000 - (500_000 % slot.modulus) + slot.residue;
      if (encodeHeader(slot.kind, slot.param, anchor) !== header) {
        throw new Error(`header ${header} (${slot.kind} ${slot.param}) did not round-trip`);
      }
    }
    expect(decodeHeader(HEADER_USED)).toBeUndefined();
    expect(decodeHeader(HEADER_VALUES - 1)).toBeUndefined();
    expect(decodeHeader(-1)).toBeUndefined();
  });

  it('prints the header through a bijection of 0..999999', () => {
    const seen = new Uint8Array(HEADER_VALUES);
    for (let header = 0; header < HEADER_VALUES; header++) {
      const printed = whitenHeader(header);
      seen[printed] = 1;
      if (unwhitenHeader(printed) !== header) throw new Error(`header ${header} did not round-trip`);
    }
    expect(seen.every((v) => v === 1)).toBe(true);
  });

  it('rebuilds the one anchor in [now + lead - modulus + 1, now + lead]', () => {
    const slot = decodeHeader(encodeHeader('hourly', 72, 493_000))!;
    expect(slot).toMatchObject({ kind: 'hourly', param: 72, modulus: 97, lead: 24 });
    // Uses run from 24 h before the start to the end hour (grace < 1 h).
    for (let now = 493_000 - 24; now <= 493_000 + 72; now++) expect(rebuildAnchor(slot, now)).toBe(493_000);
    expect(rebuildAnchor(slot, 493_000 - 25)).toBe(493_000 - 97);
    expect(rebuildAnchor(slot, 493_000 + 73)).toBe(493_000 + 97);
  });

  it('refuses params outside a kind', () => {
    expect(() => encodeHeader('hourly', 0, 1)).toThrow(RangeError);
    expect(() => encodeHeader('hourly', 673, 1)).toThrow(/param/);
    expect(() => encodeHeader('daily', 368, 1)).toThrow(RangeError);
    expect(() => encodeHeader('one_time', 1, 1)).toThrow(RangeError);
    expect(() => encodeHeader('recurring', (13 << 16) | (10 << 8) | 12, 1)).toThrow(RangeError);
    expect(() => encodeHeader('recurring', (1 << 16) | (10 << 8) | 10, 1)).toThrow(RangeError);
    expect(() => encodeHeader('permanent', 0, -1)).toThrow(/anchor/);
  });
});

describe('keys', () => {
  it('derives a distinct key per version and per code length, bound to the secret', () => {
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
    const keys = [
      deriveOfflineKey(SECRET, 1),
      deriveOfflineKey(SECRET, 2),
      deriveOfflineKey(SECRET, 1, 13),
      deriveOfflineKey(
        Uint8Array.from({ length: 32 }, (_, i) => 31 - i),
        1,
      ),
    ].map((k) => hex(k.bytes));
    expect(new Set(keys).size).toBe(4);
    expect(hex(deriveDeviceKeys(SECRET).offline(1))).toBe(keys[0]);
    expect(hex(deriveDeviceKeys(SECRET).offline(1, 13))).toBe(keys[2]);
    expect(deriveDeviceKeys(SECRET).signing).toHaveLength(32);
    expect(keys).not.toContain(hex(deriveDeviceKeys(SECRET).signing));
  });

  it.each([
    [() => deriveOfflineKey(new Uint8Array(16), 1), RangeError, /secret/],
    [() => deriveOfflineKey('x' as unknown as Uint8Array, 1), TypeError, /secret/],
    [() => deriveOfflineKey(SECRET, 0), RangeError, /keyVersion/],
    [() => deriveOfflineKey(SECRET, 1.5), RangeError, /keyVersion/],
    [() => deriveOfflineKey(SECRET, 1, 10), RangeError, /length/],
    [() => issueOfflineCode(SECRET, 0, { kind: 'permanent', start: '2026-06-10' }), RangeError, /keyVersion/],
  ] as const)('argument check %#', (fn, type, pattern) => {
    expect(fn).toThrow(type);
    expect(fn).toThrow(pattern);
  });
});

describe('issuing', () => {
  const issue = (request: Parameters<typeof issueOfflineCode>[2], options = {}) =>
    issueOfflineCode(SECRET, 1, request, { timezone: ZONE, now: NOW, ...options });

  it('issues a 12-digit code shown 4-4-4 with a 16-hex fingerprint', () => {
    const code = issue({ kind: 'hourly', start: '2026-06-10T15:00:00+02:00', hours: 72 });
    expect(code.code).toMatch(/^\d{12}$/);
    expect(code.grouped).toBe(`${code.code.slice(0, 4)}-${code.code.slice(4, 8)}-${code.code.slice(8)}`);
    expect(code.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(code.validFrom).toBe(Date.parse('2026-06-10T13:00:00Z'));
    expect(code.validUntil).toBe(Date.parse('2026-06-13T13:00:00Z'));
    expect(code.activateBy).toBe(Date.parse('2026-06-11T13:00:00Z'));
  });

  it('groups other lengths without a lone last digit', () => {
    expect(groupCode('12345678901')).toBe('1234-5678-901');
    expect(groupCode('1234567890123')).toBe('1234-5678-90123');
    expect(groupCode('12345678901234')).toBe('1234-5678-9012-34');
    expect(groupCode('1234567890123456')).toBe('1234-5678-9012-3456');
  });

  it('accepts the time zone as the fourth argument, as the scenario runner calls it', () => {
    // A string option means the real clock judges the start: use tomorrow.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const a = issueOfflineCode(SECRET, 1, { kind: 'permanent', start: tomorrow }, ZONE);
    const b = issue({ kind: 'permanent', start: tomorrow }, { now: Date.now() });
    expect(a.code).toBe(b.code);
  });

  it('reads a start without an offset in the lock zone, and epoch ms', () => {
    const local = issue({ kind: 'one_time', start: '2026-06-10T15:00' });
    const offset = issue({ kind: 'one_time', start: '2026-06-10T13:00:00Z' });
    const epoch = issue({ kind: 'one_time', start: Date.parse('2026-06-10T13:00:00Z') });
    expect(new Set([local.code, offset.code, epoch.code]).size).toBe(1);
  });

  it.each([
    ['hours out of range', { kind: 'hourly', start: '2026-06-10T15:00:00Z', hours: 673 }, 'hours', /1-672/],
    ['hours missing', { kind: 'hourly', start: '2026-06-10T15:00:00Z' }, 'hours', /whole number/],
    ['days out of range', { kind: 'daily', start: '2026-06-10', days: 0 }, 'days', /1-367/],
    ['start too far ahead', { kind: 'permanent', start: '2027-06-12' }, 'start', /366 days ahead/],
    ['start in the past', { kind: 'one_time', start: '2026-06-09T07:00:00Z' }, 'start', /24 h of its start/],
    [
      'recurring ended',
      { kind: 'recurring', start: '2026-03-01', daysOfWeek: 'mon', from: '08:00', to: '09:00' },
      'start',
      /ended/,
    ],
    ['not a whole hour', { kind: 'hourly', start: '2026-06-10T15:15:00Z', hours: 2 }, 'start', /whole hour/],
    ['bad ISO', { kind: 'hourly', start: 'tomorrow', hours: 2 }, 'start', /ISO-8601/],
    [
      'day kind not at midnight',
      { kind: 'permanent', start: '2026-06-10T08:00:00+02:00' },
      'start',
      /midnight/,
    ],
    ['unknown kind', { kind: 'forever', start: '2026-06-10' }, 'kind', /one_time/],
    [
      'stray hours',
      { kind: 'one_time', start: '2026-06-10T15:00:00Z', hours: 3 },
      'hours',
      /belongs to kind hourly/,
    ],
    [
      'stray days of week',
      { kind: 'daily', start: '2026-06-10', days: 3, daysOfWeek: 'mon' },
      'daysOfWeek',
      /recurring/,
    ],
    [
      'unencodable day set',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon,thu', from: '08:00', to: '09:00' },
      'daysOfWeek',
      /tue,thu/,
    ],
    [
      'not a weekday',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon,xyz', from: '08:00', to: '09:00' },
      'daysOfWeek',
      /xyz/,
    ],
    [
      'from missing',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon', to: '09:00' },
      'from',
      /required/,
    ],
    [
      'half hour',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon', from: '08:30', to: '09:00' },
      'from',
      /whole hour/,
    ],
    [
      'from 24:00',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon', from: '24:00', to: '09:00' },
      'from',
      /23:00/,
    ],
    [
      'equal window',
      { kind: 'recurring', start: '2026-06-10', daysOfWeek: 'mon', from: '08:00', to: '08:00' },
      'to',
      /differ/,
    ],
  ] as const)('refuses %s, naming the field', (_name, request, field, pattern) => {
    const result = planOfflineCode(request, { timezone: ZONE, now: NOW });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.field).toBe(field);
    expect(result.message.startsWith(`${field}: `)).toBe(true);
    expect(result.message).toMatch(pattern);
    expect(() => issue(request)).toThrow(OfflineRequestError);
  });

  it('refuses a bad zone or length', () => {
    expect(
      planOfflineCode({ kind: 'permanent', start: '2026-06-10' }, { timezone: 'Mars/Base' }),
    ).toMatchObject({
      ok: false,
      field: 'timezone',
    });
    expect(planOfflineCode({ kind: 'permanent', start: '2026-06-10' }, { length: 20 })).toMatchObject({
      ok: false,
      field: 'length',
    });
  });

  it('thrown refusals carry a code and the field', () => {
    try {
      issue({ kind: 'hourly', start: '2026-06-10T15:00:00Z', hours: 900 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OfflineRequestError);
      expect((error as OfflineRequestError).code).toBe('offline_request_invalid');
      expect((error as OfflineRequestError).field).toBe('hours');
    }
  });
});

describe('verifying', () => {
  const key = deriveOfflineKey(SECRET, 1);
  const issued = issueOfflineCode(
    SECRET,
    1,
    { kind: 'hourly', start: '2026-06-10T15:00:00+02:00', hours: 72 },
    { timezone: ZONE, now: NOW },
  );
  const at = Date.parse('2026-06-11T10:00:00+02:00');

  it('verifies the issued code and returns its fields and fingerprint', () => {
    expect(verifyOfflineCode(key, issued.code, at, ZONE)).toEqual({
      ...issued.fields,
      fingerprint: issued.fingerprint,
      keyVersion: 1,
    });
  });

  it('rejects every single-digit change', () => {
    for (let i = 0; i < issued.code.length; i++) {
      for (let d = 1; d < 10; d++) {
        const digit = (Number(issued.code[i]) + d) % 10;
        const changed = issued.code.slice(0, i) + digit + issued.code.slice(i + 1);
        expect(verifyOfflineCode(key, changed, at, ZONE)).toBeUndefined();
      }
    }
  });

  it('rejects other lengths, non-digits, another key version and another lock', () => {
    expect(verifyOfflineCode(key, issued.code.slice(1), at, ZONE)).toBeUndefined();
    expect(verifyOfflineCode(key, `${issued.code.slice(0, 11)}a`, at, ZONE)).toBeUndefined();
    expect(verifyOfflineCode(deriveOfflineKey(SECRET, 2), issued.code, at, ZONE)).toBeUndefined();
    const other = Uint8Array.from({ length: 32 }, () => 9);
    expect(verifyOfflineCode(deriveOfflineKey(other, 1), issued.code, at, ZONE)).toBeUndefined();
  });

  it('finds a code by its digits ahead of its start (revoking before use)', () => {
    const later = issueOfflineCode(
      SECRET,
      1,
      { kind: 'hourly', start: '2026-09-01T10:00:00Z', hours: 3 },
      { timezone: ZONE, now: NOW },
    );
    expect(verifyOfflineCode(key, later.code, NOW, ZONE)).toBeUndefined();
    expect(locateOfflineCode(key, later.code, NOW, ZONE)?.fingerprint).toBe(later.fingerprint);
    expect(locateOfflineCode(key, '000000000000', NOW, ZONE)).toBeUndefined();
  });

  it('maps kinds onto stored kinds, activation deadline before first use, real end after', () => {
    const code = verifyOfflineCode(key, issued.code, at, ZONE)!;
    const window = offlineWindow(code, ZONE);
    const fresh = offlineCredential(code, window, NEVER_USED);
    expect(fresh).toMatchObject({
      kind: 'time_bound',
      name: `offline:${issued.fingerprint}`,
      id: 0,
      endsAt: window.activateBy,
    });
    const used = offlineCredential(code, window, { activatedAt: at, uses: 1, revoked: false });
    expect(used).toMatchObject({ kind: 'time_bound', endsAt: window.validUntil, firstUsedAt: at, uses: 1 });
    const perm = issueOfflineCode(
      SECRET,
      1,
      { kind: 'permanent', start: '2026-06-10' },
      { timezone: ZONE, now: NOW },
    );
    const p = verifyOfflineCode(key, perm.code, at, ZONE)!;
    expect(offlineCredential(p, offlineWindow(p, ZONE), NEVER_USED)).toMatchObject({
      kind: 'ongoing',
      startsAt: perm.validFrom,
    });
    expect(
      offlineCredential(p, offlineWindow(p, ZONE), { activatedAt: at, uses: 1, revoked: false }),
    ).toMatchObject({
      kind: 'ongoing',
      startsAt: null,
      endsAt: null,
    });
  });

  it('an untrusted clock admits an activated permanent code only', () => {
    const judge = (request: Parameters<typeof issueOfflineCode>[2], activatedAt: number | null) => {
      const c = issueOfflineCode(SECRET, 1, request, { timezone: ZONE, now: NOW });
      const v = verifyOfflineCode(key, c.code, c.validFrom + HOUR, ZONE)!;
      const credential = offlineCredential(v, offlineWindow(v, ZONE), {
        activatedAt,
        uses: activatedAt ? 1 : 0,
        revoked: false,
      });
      const d = decide({
        entry: c.code,
        acceptedLengths: { min: 4, max: 10, offline: 12 },
        credential,
        now: c.validFrom + HOUR,
        clockTrusted: false,
        highWater: 0,
        lockedOut: false,
        mode: 'normal',
        timezone: ZONE,
        graceMs: 0,
      });
      return d.outcome === 'granted' ? 'granted' : d.reason;
    };
    expect(judge({ kind: 'permanent', start: '2026-06-10' }, NOW)).toBe('granted');
    expect(judge({ kind: 'permanent', start: '2026-06-10' }, null)).toBe('clock_untrusted');
    expect(judge({ kind: 'hourly', start: '2026-06-10T12:00:00Z', hours: 72 }, NOW)).toBe('clock_untrusted');
    expect(judge({ kind: 'daily', start: '2026-06-10', days: 3 }, NOW)).toBe('clock_untrusted');
    expect(
      judge({ kind: 'recurring', start: '2026-06-10', daysOfWeek: 'wed', from: '00:00', to: '24:00' }, NOW),
    ).toBe('clock_untrusted');
    expect(judge({ kind: 'one_time', start: '2026-06-10T12:00:00Z' }, null)).toBe('clock_untrusted');
  });
});
