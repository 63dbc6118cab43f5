import { createHmac } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { DateTime } from 'luxon';
import { dynamicTruncate } from './hotp.ts';
import {
  DAY_MS,
  decodeHeader,
  encodeHeader,
  HEADER_DIGITS,
  HOUR_MS,
  KIND_CODE,
  type OfflineKind,
  rebuildAnchor,
  unwhitenHeader,
  whitenHeader,
} from './offline-layout.ts';
import {
  decodeHeaderV2,
  encodeHeaderV2,
  unwhitenHeaderV2,
  V2_EXTRA_DIGITS,
  V2_HEADER_DIGITS,
  whitenHeaderV2,
} from './offline-layout-v2.ts';

/**
 * The offline-code format (docs/offline-codes.md): key derivation, the MAC, the
 * code's digits and the validator. Pure: no store, no clock. What a verified code
 * means to the decision is in offline-credential.ts.
 */

export type { OfflineKind } from './offline-layout.ts';
export { OFFLINE_KINDS } from './offline-layout.ts';

export const MIN_CODE_LENGTH = 11;
export const MAX_CODE_LENGTH = 16;
export const DEFAULT_CODE_LENGTH = 12;

/** HKDF salt shared by every key derived from the device secret. */
export const DEVICE_KDF_SALT = 'tumbler/device-keys/v1';
export const offlineKeyInfo = (version: number, length: number) =>
  `tumbler/offline-code/v1 key-version=${version} length=${length}`;
/** Version 2 keys: a different info string, and the length is the version 2 code's own. */
export const offlineKeyInfoV2 = (version: number, length: number) =>
  `tumbler/offline-code/v2 key-version=${version} length=${length}`;

/** The length of a version 2 code on a lock whose version 1 length is `length`. */
export const v2CodeLength = (length: number) => length + V2_EXTRA_DIGITS;

/** Fingerprint: bytes 20..27 of the MAC, which dynamic truncation never reads (it reads 0..18 and 31). */
const FINGERPRINT_FROM = 20;
const FINGERPRINT_TO = 28;
export const FINGERPRINT_PATTERN = /^[0-9a-f]{16}$/;

/** The versioned offline key of one lock, for one code length. */
export interface OfflineKey {
  readonly version: number;
  /** The length of the codes this key checks (version 2: the lock's length + 3). */
  readonly length: number;
  readonly bytes: Uint8Array;
  /** Present on version 2 keys only. */
  readonly format?: 2;
}

export function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array)) throw new TypeError('secret must be a Uint8Array');
  if (secret.length !== 32) throw new RangeError('secret must be 32 bytes');
}

export function checkKeyVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1 || version > 0xffff_ffff) {
    throw new RangeError('keyVersion must be an integer 1 to 2^32-1');
  }
}

export function checkCodeLength(length: number): void {
  if (!Number.isInteger(length) || length < MIN_CODE_LENGTH || length > MAX_CODE_LENGTH) {
    throw new RangeError(`length must be an integer ${MIN_CODE_LENGTH}-${MAX_CODE_LENGTH}`);
  }
}

/**
 * K_v = HKDF-SHA256(device secret, salt, info naming the version and the code length).
 * The length is in the info so a 13-digit code never gives away the tag of a 12-digit one.
 */
export function deriveOfflineKey(
  secret: Uint8Array,
  version: number,
  length = DEFAULT_CODE_LENGTH,
): OfflineKey {
  checkSecret(secret);
  checkKeyVersion(version);
  checkCodeLength(length);
  const bytes = hkdf(
    sha256,
    secret,
    utf8ToBytes(DEVICE_KDF_SALT),
    utf8ToBytes(offlineKeyInfo(version, length)),
    32,
  );
  // A Buffer: node:crypto takes it without a conversion on every HMAC.
  return { version, length, bytes: Buffer.from(bytes) };
}

/**
 * The version 2 key for a lock whose version 1 length is `length`: HKDF with the
 * version 2 info string naming the version 2 code length (length + 3).
 */
export function deriveOfflineKeyV2(
  secret: Uint8Array,
  version: number,
  length = DEFAULT_CODE_LENGTH,
): OfflineKey {
  checkSecret(secret);
  checkKeyVersion(version);
  checkCodeLength(length);
  const codeLength = v2CodeLength(length);
  const bytes = hkdf(
    sha256,
    secret,
    utf8ToBytes(DEVICE_KDF_SALT),
    utf8ToBytes(offlineKeyInfoV2(version, codeLength)),
    32,
  );
  return { version, length: codeLength, bytes: Buffer.from(bytes), format: 2 };
}

const headerDigitsOf = (key: OfflineKey) => (key.format === 2 ? V2_HEADER_DIGITS : HEADER_DIGITS);

/** The fields a code carries, with its anchor made absolute. */
export interface OfflineFields {
  /** The format version: absent for version 1, 2 for version 2 (offline-layout-v2.ts). */
  version?: 2;
  kind: OfflineKind;
  /** hours (hourly), days (daily), packed day set and window (recurring), else 0. */
  param: number;
  /**
   * Version 1: UTC hour index (one_time, hourly, erase) or date number, days since
   * 1970-01-01 (the rest). Version 2: local hour number (local date number x 24 + hour)
   * for every kind but recurring, which keeps the local date number.
   */
  anchor: number;
}

/** The 8-byte HOTP counter: kind (1 byte), param (3 bytes), anchor (4 bytes), big-endian. */
export function offlineCounter(fields: OfflineFields): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, (KIND_CODE[fields.kind] << 24) | fields.param);
  view.setUint32(4, fields.anchor);
  return out;
}

/** Reused counter block: the validator allocates nothing before the HMAC (it is synchronous). */
const counterBlock = Buffer.alloc(8);

function macOf(key: OfflineKey, kind: OfflineKind, param: number, anchor: number): Buffer {
  counterBlock.writeUInt32BE(((KIND_CODE[kind] << 24) | param) >>> 0, 0);
  counterBlock.writeUInt32BE(anchor, 4);
  return createHmac('sha256', key.bytes).update(counterBlock).digest();
}

const fingerprintOf = (mac: Buffer) => mac.toString('hex', FINGERPRINT_FROM, FINGERPRINT_TO);

/** Everything about one code's MAC, for the vectors file and the issuer. */
export interface OfflineMac {
  counterHex: string;
  macHex: string;
  truncated: number;
  tag: string;
  fingerprint: string;
}

export function offlineMac(key: OfflineKey, fields: OfflineFields): OfflineMac {
  const mac = macOf(key, fields.kind, fields.param, fields.anchor);
  const tagDigits = key.length - headerDigitsOf(key);
  const truncated = dynamicTruncate(mac);
  return {
    counterHex: Buffer.from(offlineCounter(fields)).toString('hex'),
    macHex: Buffer.from(mac).toString('hex'),
    truncated,
    tag: String(truncated % 10 ** tagDigits).padStart(tagDigits, '0'),
    fingerprint: fingerprintOf(mac),
  };
}

/** The code's digits: six header digits, then the tag. */
export function encodeOfflineCode(key: OfflineKey, fields: OfflineFields): { code: string; mac: OfflineMac } {
  if ((fields.version === 2) !== (key.format === 2))
    throw new RangeError('fields and key must be of the same format version');
  if (fields.version === 2) {
    const printed = whitenHeaderV2(encodeHeaderV2(fields.kind, fields.param, fields.anchor));
    const mac = offlineMac(key, fields);
    return { code: String(printed).padStart(V2_HEADER_DIGITS, '0') + mac.tag, mac };
  }
  const header = String(whitenHeader(encodeHeader(fields.kind, fields.param, fields.anchor))).padStart(
    HEADER_DIGITS,
    '0',
  );
  const mac = offlineMac(key, fields);
  return { code: header + mac.tag, mac };
}

/** Groups of four for people ("1234-5678-9012"); a last group of one joins the one before. */
export function groupCode(code: string): string {
  const groups = code.match(/\d{1,4}/g) ?? [];
  if (groups.length > 1 && groups[groups.length - 1]!.length === 1) {
    const last = groups.pop()!;
    groups[groups.length - 1] += last;
  }
  return groups.join('-');
}

const offsetCache = new Map<string, number>();
let lastZone = '';
let lastBucket = Number.NaN;
let lastOffset = 0;

/**
 * The local calendar date at `epochMs` in `zone`, as days since 1970-01-01. Zone
 * offsets change only on quarter hours, so the offset is cached per quarter hour: the
 * validator pays for luxon once, not per entry.
 */
export function localDayNumber(epochMs: number, zone: string): number {
  return Math.floor((epochMs + localOffsetMs(epochMs, zone)) / DAY_MS);
}

/** The local wall hour at `epochMs` in `zone`: local date number x 24 + hour (version 2 anchors). */
export function localHourNumber(epochMs: number, zone: string): number {
  return Math.floor((epochMs + localOffsetMs(epochMs, zone)) / HOUR_MS);
}

function localOffsetMs(epochMs: number, zone: string): number {
  const bucket = Math.floor(epochMs / 900_000);
  if (bucket !== lastBucket || zone !== lastZone) {
    const cacheKey = `${zone}|${bucket}`;
    let offset = offsetCache.get(cacheKey);
    if (offset === undefined) {
      offset = DateTime.fromMillis(epochMs, { zone }).offset;
      if (offsetCache.size >= 256) offsetCache.clear();
      offsetCache.set(cacheKey, offset);
    }
    lastZone = zone;
    lastBucket = bucket;
    lastOffset = offset;
  }
  return lastOffset * 60_000;
}

/** A code that verified: its fields and fingerprint. */
export interface VerifiedOfflineCode extends OfflineFields {
  fingerprint: string;
  keyVersion: number;
}

const ALL_DIGITS = /^\d+$/;

/**
 * Checks an entry: parse the header, rebuild the one possible anchor from the
 * reference time, one HMAC, compare the tag. Undefined when it does not verify.
 * `refMs` is the lock's (trusted) wall time; `zone` its time zone, for date anchors.
 */
export function verifyOfflineCode(
  key: OfflineKey,
  entry: string,
  refMs: number,
  zone: string,
): VerifiedOfflineCode | undefined {
  if (entry.length !== key.length || !ALL_DIGITS.test(entry)) return undefined;
  if (key.format === 2) return verifyV2(key, entry, refMs, zone);
  const slot = decodeHeader(unwhitenHeader(Number(entry.slice(0, HEADER_DIGITS))));
  if (!slot) return undefined;
  const now = slot.unit === 'hour' ? Math.floor(refMs / HOUR_MS) : localDayNumber(refMs, zone);
  const anchor = rebuildAnchor(slot, now);
  if (!(anchor >= 0 && anchor <= 0xffff_ffff)) return undefined;
  const mac = macOf(key, slot.kind, slot.param, anchor);
  // Numbers, not strings: one machine comparison, no early exit on the first digit.
  if (dynamicTruncate(mac) % 10 ** (key.length - HEADER_DIGITS) !== Number(entry.slice(HEADER_DIGITS)))
    return undefined;
  // A literal, not a spread: object spread costs more than the rest of the validator.
  return {
    kind: slot.kind,
    param: slot.param,
    anchor,
    fingerprint: fingerprintOf(mac),
    keyVersion: key.version,
  };
}

/** Version 2: the same steps; the anchor is a local hour (or local date) rebuilt in `zone`. */
function verifyV2(
  key: OfflineKey,
  entry: string,
  refMs: number,
  zone: string,
): VerifiedOfflineCode | undefined {
  const slot = decodeHeaderV2(unwhitenHeaderV2(Number(entry.slice(0, V2_HEADER_DIGITS))));
  if (!slot) return undefined;
  const now = slot.unit === 'hour' ? localHourNumber(refMs, zone) : localDayNumber(refMs, zone);
  const anchor = rebuildAnchor(slot, now);
  if (!(anchor >= 0 && anchor <= 0xffff_ffff)) return undefined;
  const mac = macOf(key, slot.kind, slot.param, anchor);
  if (dynamicTruncate(mac) % 10 ** (key.length - V2_HEADER_DIGITS) !== Number(entry.slice(V2_HEADER_DIGITS)))
    return undefined;
  return {
    version: 2,
    kind: slot.kind,
    param: slot.param,
    anchor,
    fingerprint: fingerprintOf(mac),
    keyVersion: key.version,
  };
}

/**
 * Finds which code an entry is when the time it is for is unknown (revoking a code by
 * its digits ahead of its start). A bounded search over the anchors the header allows
 * between the code's longest life back and MAX_AHEAD_DAYS ahead: for administration
 * only, never on the keypad path.
 */
export function locateOfflineCode(
  key: OfflineKey,
  entry: string,
  aroundMs: number,
  zone: string,
  aheadDays = 367,
): VerifiedOfflineCode | undefined {
  if (entry.length !== key.length || !ALL_DIGITS.test(entry)) return undefined;
  const v2 = key.format === 2;
  const digits = headerDigitsOf(key);
  const printed = Number(entry.slice(0, digits));
  const slot = v2 ? decodeHeaderV2(unwhitenHeaderV2(printed)) : decodeHeader(unwhitenHeader(printed));
  if (!slot) return undefined;
  const now =
    slot.unit === 'day'
      ? localDayNumber(aroundMs, zone)
      : v2
        ? localHourNumber(aroundMs, zone)
        : Math.floor(aroundMs / HOUR_MS);
  const last = now + (slot.unit === 'hour' ? aheadDays * 24 : aheadDays);
  const tag = Number(entry.slice(digits));
  for (let anchor = rebuildAnchor(slot, now); anchor <= last; anchor += slot.modulus) {
    if (anchor < 0 || anchor > 0xffff_ffff) continue;
    const fields: OfflineFields = { kind: slot.kind, param: slot.param, anchor };
    const mac = macOf(key, fields.kind, fields.param, fields.anchor);
    if (dynamicTruncate(mac) % 10 ** (key.length - digits) === tag) {
      return {
        ...(v2 ? { version: 2 as const } : {}),
        ...fields,
        fingerprint: fingerprintOf(mac),
        keyVersion: key.version,
      };
    }
  }
  return undefined;
}
