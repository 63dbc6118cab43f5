import { createHmac } from 'node:crypto';

/**
 * The HOTP/TOTP core (RFC 4226, RFC 6238), generic over the hash. The offline-code
 * tag is exactly `hotp(key, counter, { algorithm: 'sha256', digits })`, so the code
 * that guards the door is the code checked against the RFC vectors.
 * HMAC comes from node:crypto: it is the fastest HMAC Node has, and the offline
 * validator is benchmarked against one bare call of it.
 */

export const HOTP_ALGORITHMS = ['sha1', 'sha256', 'sha512'] as const;
export type HotpAlgorithm = (typeof HOTP_ALGORITHMS)[number];

const MAX_COUNTER = 2n ** 64n - 1n;

export interface HotpOptions {
  /** Digits in the result, 1-10 (RFC 4226 asks for at least 6). */
  digits?: number;
  algorithm?: HotpAlgorithm;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length === 0) throw new RangeError('key must not be empty');
}

function checkAlgorithm(algorithm: string): asserts algorithm is HotpAlgorithm {
  if (!(HOTP_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new TypeError(`algorithm must be one of ${HOTP_ALGORITHMS.join(', ')}`);
  }
}

function checkDigits(digits: number): void {
  if (!Number.isInteger(digits) || digits < 1 || digits > 10)
    throw new RangeError('digits must be an integer 1-10');
}

/** The 8-byte big-endian counter block HOTP signs. */
export function counterBytes(counter: number | bigint): Uint8Array {
  const value = typeof counter === 'bigint' ? counter : Number.isSafeInteger(counter) ? BigInt(counter) : -1n;
  if (value < 0n || value > MAX_COUNTER) throw new RangeError('counter must be an integer 0 to 2^64-1');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

/** HMAC of `message` under `key`. */
export function hmac(algorithm: HotpAlgorithm, key: Uint8Array, message: Uint8Array): Uint8Array {
  return createHmac(algorithm, key).update(message).digest();
}

/**
 * RFC 4226 section 5.3 dynamic truncation: the low nibble of the last byte picks an
 * offset; the 4 bytes there, top bit cleared, are a 31-bit number.
 */
export function dynamicTruncate(mac: Uint8Array): number {
  if (!(mac instanceof Uint8Array) || mac.length < 20) throw new RangeError('mac must be at least 20 bytes');
  const offset = mac[mac.length - 1]! & 0x0f;
  return (
    (((mac[offset]! & 0x7f) << 24) |
      (mac[offset + 1]! << 16) |
      (mac[offset + 2]! << 8) |
      mac[offset + 3]!) >>>
    0
  );
}

/** The truncated value reduced to `digits` decimal digits, as a number. */
export function truncateToDigits(mac: Uint8Array, digits: number): number {
  return dynamicTruncate(mac) % 10 ** digits;
}

/** HOTP(K, C) as a zero-padded digit string. */
export function hotp(key: Uint8Array, counter: number | bigint, options: HotpOptions = {}): string {
  const digits = options.digits ?? 6;
  const algorithm = options.algorithm ?? 'sha1';
  checkKey(key);
  checkAlgorithm(algorithm);
  checkDigits(digits);
  return String(truncateToDigits(hmac(algorithm, key, counterBytes(counter)), digits)).padStart(digits, '0');
}

export interface TotpOptions extends HotpOptions {
  /** Time step X in seconds (default 30). */
  step?: number;
  /** T0, the Unix time steps count from (default 0). */
  t0?: number;
}

/** TOTP at `unixSeconds`: HOTP over floor((time - T0) / X). */
export function totp(key: Uint8Array, unixSeconds: number, options: TotpOptions = {}): string {
  const step = options.step ?? 30;
  const t0 = options.t0 ?? 0;
  if (!Number.isFinite(unixSeconds)) throw new RangeError('unixSeconds must be a finite number');
  if (!Number.isInteger(step) || step < 1) throw new RangeError('step must be a positive integer');
  if (!Number.isInteger(t0) || t0 < 0) throw new RangeError('t0 must be a non-negative integer');
  if (unixSeconds < t0) throw new RangeError('unixSeconds must not be before t0');
  return hotp(key, Math.floor((unixSeconds - t0) / step), {
    digits: options.digits ?? 8,
    algorithm: options.algorithm ?? 'sha1',
  });
}
