import { readFileSync } from 'node:fs';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decide } from '../../firmware/access/decide.ts';
import { hotp } from '../../firmware/access/hotp.ts';
import { deriveOfflineKey, deriveOfflineKeyV2, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { offlineCredential, offlineWindow } from '../../firmware/access/offline-credential.ts';
import { issueOfflineCode } from '../../firmware/access/offline-issue.ts';
import { buildOfflineVectors, VECTORS_PATH } from '../../scripts/gen-offline-vectors.ts';

type Vectors = ReturnType<typeof buildOfflineVectors>;
const file = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
const secret = new Uint8Array(Buffer.from(file.secretHex, 'hex'));

/**
 * A second implementation written from docs/offline-codes.md alone (noble HMAC, no
 * import from firmware/access/offline*): what a cloud in another language would do.
 */
const spec = {
  key(version: number, length: number): Uint8Array {
    const enc = new TextEncoder();
    return hkdf(
      sha256,
      secret,
      enc.encode('tumbler/device-keys/v1'),
      enc.encode(`tumbler/offline-code/v1 key-version=${version} length=${length}`),
      32,
    );
  },
  header(kindByte: number, param: number, anchor: number): number {
    const mod = (a: number, m: number) => ((a % m) + m) % m;
    switch (kindByte) {
      case 1: // one_time
        return mod(anchor, 49);
      case 6: // erase
        return 49 + mod(anchor, 49);
      case 4: // permanent
        return 98 + mod(anchor, 10_000);
      case 3: // daily, n days: block offset (n-1)n/2 + 2(n-1), modulus n + 2
        return 10_098 + ((param - 1) * param) / 2 + 2 * (param - 1) + mod(anchor, param + 2);
      case 2: // hourly, d hours: block offset (d-1)d/2 + 25(d-1), modulus d + 25
        return 78_360 + ((param - 1) * param) / 2 + 25 * (param - 1) + mod(anchor, param + 25);
      case 5: {
        // recurring: day set, from-hour, to-hour packed in param; window index from-major
        const daySet = param >>> 16;
        const from = (param >>> 8) & 0xff;
        const to = param & 0xff;
        const window = from === 0 ? to - 1 : 24 + (from - 1) * 23 + (to < from ? to - 1 : to - 2);
        return 321_288 + (daySet * 553 + window) * 93 + mod(anchor, 93);
      }
      default:
        throw new Error(`kind byte ${kindByte}`);
    }
  },
  code(version: number, length: number, kindByte: number, param: number, anchor: number) {
    const counter = new Uint8Array(8);
    const view = new DataView(counter.buffer);
    view.setUint32(0, kindByte * 2 ** 24 + param);
    view.setUint32(4, anchor);
    const mac = hmac(sha256, spec.key(version, length), counter);
    const offset = mac[31]! & 0x0f;
    const truncated =
      (mac[offset]! & 0x7f) * 2 ** 24 +
      mac[offset + 1]! * 2 ** 16 +
      mac[offset + 2]! * 2 ** 8 +
      mac[offset + 3]!;
    const tagDigits = length - 6;
    const printed = (spec.header(kindByte, param, anchor) * 481_207 + 271_828) % 1_000_000;
    return {
      code: String(printed).padStart(6, '0') + String(truncated % 10 ** tagDigits).padStart(tagDigits, '0'),
      fingerprint: Buffer.from(mac.subarray(20, 28)).toString('hex'),
      counterHex: Buffer.from(counter).toString('hex'),
      macHex: Buffer.from(mac).toString('hex'),
    };
  },
};

/**
 * Version 2, again from docs/offline-codes.md ("Version 2") alone: the closed-form block
 * offsets of the spec's header table, BigInt for the printing map.
 */
const specV2 = {
  key(version: number, codeLength: number): Uint8Array {
    const enc = new TextEncoder();
    return hkdf(
      sha256,
      secret,
      enc.encode('tumbler/device-keys/v1'),
      enc.encode(`tumbler/offline-code/v2 key-version=${version} length=${codeLength}`),
      32,
    );
  },
  header(kindByte: number, param: number, anchor: number): number {
    const mod = (a: number, m: number) => ((a % m) + m) % m;
    const variant = param >>> 21;
    const inner = param & 0x1f_ffff;
    switch (kindByte) {
      case 1: // one_time: 5 variants x 51
        return variant * 51 + mod(anchor, 51);
      case 6: // erase
        return 255 + mod(anchor, 51);
      case 4: // permanent: 3 variants x 240,000 local hours
        return 306 + variant * 240_000 + mod(anchor, 240_000);
      case 2: {
        // hourly d: offset (d-1)d/2 + 27(d-1), modulus d + 27, stride 244,272
        const d = inner;
        return 720_306 + variant * 244_272 + ((d - 1) * d) / 2 + 27 * (d - 1) + mod(anchor, d + 27);
      }
      case 3: {
        // daily n days, check-out c: offset 288(n-1)n + 924(n-1) + c(24n + 27) + c(c-1)/2,
        // modulus 24n + c + 27, stride 39,235,236
        const n = inner >>> 5;
        const c = inner & 0x1f;
        const offset = 288 * (n - 1) * n + 924 * (n - 1) + c * (24 * n + 27) + (c * (c - 1)) / 2;
        return 1_453_122 + variant * 39_235_236 + offset + mod(anchor, 24 * n + c + 27);
      }
      case 5: {
        // recurring: outer (variant x 127 + mask - 1) x 553 + window, stride 2,574;
        // periods m: offset 14(m-1)m + 2(m-1), modulus 28m + 2
        const mask = inner >>> 14;
        const window = (inner >>> 4) & 0x3ff;
        const m = inner & 0xf;
        const outer = (variant * 127 + mask - 1) * 553 + window;
        return 119_158_830 + outer * 2_574 + 14 * (m - 1) * m + 2 * (m - 1) + mod(anchor, 28 * m + 2);
      }
      default:
        throw new Error(`kind byte ${kindByte}`);
    }
  },
  code(version: number, length: number, kindByte: number, param: number, anchor: number) {
    const codeLength = length + 3;
    const counter = new Uint8Array(8);
    const view = new DataView(counter.buffer);
    view.setUint32(0, kindByte * 2 ** 24 + param);
    view.setUint32(4, anchor);
    const mac = hmac(sha256, specV2.key(version, codeLength), counter);
    const offset = mac[31]! & 0x0f;
    const truncated =
      (mac[offset]! & 0x7f) * 2 ** 24 +
      mac[offset + 1]! * 2 ** 16 +
      mac[offset + 2]! * 2 ** 8 +
      mac[offset + 3]!;
    const tagDigits = length - 6;
    const printed =
      (BigInt(specV2.header(kindByte, param, anchor)) * 7_654_321n + 314_159_265n) % 1_000_000_000n;
    return {
      code: String(printed).padStart(9, '0') + String(truncated % 10 ** tagDigits).padStart(tagDigits, '0'),
      fingerprint: Buffer.from(mac.subarray(20, 28)).toString('hex'),
      counterHex: Buffer.from(counter).toString('hex'),
      macHex: Buffer.from(mac).toString('hex'),
    };
  },
};

describe('docs/offline-code-vectors.json', () => {
  it('matches what this implementation generates (regenerate: npx tsx scripts/gen-offline-vectors.ts)', () => {
    expect(file).toEqual(JSON.parse(JSON.stringify(buildOfflineVectors())));
  });

  it('publishes the derived keys', () => {
    for (const k of file.kdf.keys) {
      expect(Buffer.from(spec.key(k.keyVersion, k.length)).toString('hex')).toBe(k.keyHex);
    }
  });

  describe('issue -> code', () => {
    it.each(file.issue.map((v) => [v.name, v] as const))('%s', (_name, v) => {
      const issued = issueOfflineCode(secret, v.keyVersion, v.request, {
        timezone: v.timezone,
        now: DateTime.fromISO(v.now).toMillis(),
        length: v.length,
      });
      expect(issued.code).toBe(v.expect.code);
      expect(issued.grouped).toBe(v.expect.grouped);
      expect(issued.fingerprint).toBe(v.expect.fingerprint);
      // The independent implementation agrees on every intermediate value.
      const ref = spec.code(v.keyVersion, v.length, v.expect.kindByte, v.expect.param, v.expect.anchor);
      expect(ref).toEqual({
        code: v.expect.code,
        fingerprint: v.expect.fingerprint,
        counterHex: v.expect.counterHex,
        macHex: v.expect.macHex,
      });
      // The tag is plain RFC 4226 HOTP-SHA256 over the packed counter.
      const tag = hotp(
        deriveOfflineKey(secret, v.keyVersion, v.length).bytes,
        BigInt(`0x${v.expect.counterHex}`),
        {
          algorithm: 'sha256',
          digits: v.length - 6,
        },
      );
      expect(tag).toBe(v.expect.tag);
      expect(v.expect.code.slice(6)).toBe(tag);
      // The anchor is the UTC hour index, or the local start date as days since 1970-01-01.
      const start = v.request.start as string;
      const anchor = /^\d{4}-\d{2}-\d{2}$/.test(start)
        ? Date.parse(`${start}T00:00:00Z`) / 86_400_000
        : DateTime.fromISO(start, { zone: v.timezone }).toMillis() / 3_600_000;
      expect(v.expect.anchor).toBe(anchor);
    });
  });

  describe('refusals', () => {
    it.each(file.refuse.map((v) => [v.name, v] as const))('%s', (_name, v) => {
      expect(() =>
        issueOfflineCode(secret, 1, v.request, {
          timezone: v.timezone,
          now: DateTime.fromISO(v.now).toMillis(),
        }),
      ).toThrow(v.expect.message);
    });
  });

  describe('code -> decision', () => {
    it.each(file.validate.map((v) => [v.name, v] as const))('%s', (_name, v) => {
      const at = DateTime.fromISO(v.at).toMillis();
      const verified = verifyOfflineCode(
        deriveOfflineKey(secret, v.keyVersion, v.length),
        v.code,
        at,
        v.timezone,
      );
      expect(verified !== undefined).toBe(v.expect.verifies);
      expect(verified?.fingerprint ?? null).toBe(v.expect.fingerprint);
      const state = {
        activatedAt: v.state.activatedAt ? DateTime.fromISO(v.state.activatedAt).toMillis() : null,
        uses: v.state.uses,
        revoked: v.state.revoked,
      };
      const decision = decide({
        entry: v.code,
        acceptedLengths: { min: 4, max: 10, offline: v.length },
        credential: verified
          ? offlineCredential(verified, offlineWindow(verified, v.timezone), state)
          : undefined,
        now: at,
        clockTrusted: v.clockTrusted,
        highWater: 0,
        lockedOut: false,
        mode: 'normal',
        timezone: v.timezone,
        graceMs: file.layout.graceMs,
      });
      expect(decision.outcome).toBe(v.expect.outcome);
      expect(decision.outcome === 'denied' ? decision.reason : null).toBe(v.expect.reason);
    });

    it('covers every outcome the spec promises', () => {
      const reasons = new Set(file.validate.map((v) => v.expect.reason ?? 'granted'));
      for (const reason of [
        'granted',
        'not_yet_active',
        'expired',
        'used_up',
        'revoked',
        'clock_untrusted',
        'outside_schedule',
        'unknown_code',
      ]) {
        expect(reasons).toContain(reason);
      }
    });
  });

  describe('version 2', () => {
    const v2 = file.v2;

    it('publishes the derived keys', () => {
      for (const k of v2.kdf.keys) {
        expect(Buffer.from(specV2.key(k.keyVersion, k.codeLength)).toString('hex')).toBe(k.keyHex);
      }
    });

    it.each(v2.issue.map((v) => [v.name, v] as const))('issue -> code: %s', (_name, v) => {
      const issued = issueOfflineCode(secret, v.keyVersion, v.request, {
        timezone: v.timezone,
        now: DateTime.fromISO(v.now).toMillis(),
        length: v.length,
      });
      expect(issued.code).toBe(v.expect.code);
      expect(issued.code).toHaveLength(v.length + 3);
      expect(issued.fingerprint).toBe(v.expect.fingerprint);
      const ref = specV2.code(v.keyVersion, v.length, v.expect.kindByte, v.expect.param, v.expect.anchor);
      expect(ref).toEqual({
        code: v.expect.code,
        fingerprint: v.expect.fingerprint,
        counterHex: v.expect.counterHex,
        macHex: v.expect.macHex,
      });
      // The anchor is the start's local hour number (local date x 24 + hour), or for
      // recurring codes the local date number.
      const local = DateTime.fromISO(v.expect.validFrom!, { zone: v.timezone });
      const day = Date.UTC(local.year, local.month - 1, local.day) / 86_400_000;
      expect(v.expect.anchor).toBe(v.request.kind === 'recurring' ? day : day * 24 + local.hour);
    });

    it.each(v2.refuse.map((v) => [v.name, v] as const))('refusal: %s', (_name, v) => {
      expect(() =>
        issueOfflineCode(secret, 1, v.request, {
          timezone: v.timezone,
          now: DateTime.fromISO(v.now).toMillis(),
        }),
      ).toThrow(v.expect.message);
    });

    it.each(v2.validate.map((v) => [v.name, v] as const))('code -> decision: %s', (_name, v) => {
      const at = DateTime.fromISO(v.at).toMillis();
      const verified = verifyOfflineCode(
        deriveOfflineKeyV2(secret, v.keyVersion, v.length),
        v.code,
        at,
        v.timezone,
      );
      expect(verified !== undefined).toBe(v.expect.verifies);
      expect(verified?.fingerprint ?? null).toBe(v.expect.fingerprint);
      // A version 2 code never verifies as version 1, whatever the length.
      expect(
        verifyOfflineCode(deriveOfflineKey(secret, v.keyVersion, v.length), v.code, at, v.timezone),
      ).toBe(undefined);
      const state = {
        activatedAt: v.state.activatedAt ? DateTime.fromISO(v.state.activatedAt).toMillis() : null,
        uses: v.state.uses,
        revoked: v.state.revoked,
      };
      const decision = decide({
        entry: v.code,
        acceptedLengths: { min: 4, max: 10, offline: v.length, offlineV2: v.length + 3 },
        credential: verified
          ? offlineCredential(verified, offlineWindow(verified, v.timezone), state)
          : undefined,
        now: at,
        clockTrusted: v.clockTrusted,
        highWater: 0,
        lockedOut: false,
        mode: 'normal',
        timezone: v.timezone,
        graceMs: file.layout.graceMs,
      });
      expect(decision.outcome).toBe(v.expect.outcome);
      expect(decision.outcome === 'denied' ? decision.reason : null).toBe(v.expect.reason);
    });

    it('covers every kind, every outcome and every refused field', () => {
      expect(new Set(v2.issue.map((v) => v.request.kind))).toEqual(
        new Set(['one_time', 'hourly', 'daily', 'permanent', 'recurring', 'erase']),
      );
      const reasons = new Set(v2.validate.map((v) => v.expect.reason ?? 'granted'));
      for (const reason of [
        'granted',
        'not_yet_active',
        'expired',
        'used_up',
        'revoked',
        'clock_untrusted',
        'outside_schedule',
        'unknown_code',
      ]) {
        expect(reasons).toContain(reason);
      }
      const fields = new Set(v2.refuse.map((v) => v.expect.field));
      for (const field of [
        'version',
        'variant',
        'start',
        'hours',
        'days',
        'checkIn',
        'checkOut',
        'daysOfWeek',
        'weeks',
      ])
        expect(fields).toContain(field);
    });
  });
});
