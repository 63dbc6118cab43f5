import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { DEVICE_KDF_SALT } from '../access/offline.ts';
import { decodeBase32, encodeBase32 } from './base32.ts';

/**
 * Technician tokens: what the gateway mints (`lockctl tech-token`) so a technician can
 * `login` on the lock's serial console. A token names its device and its expiry and
 * carries an HMAC-SHA256 tag under a key both sides derive from the device secret:
 *
 *     tt1.<device id>.<base32(expiry seconds, 5 bytes | nonce, 5 bytes | tag, 10 bytes)>
 *     tt1.lock-1.01mj3kzg04106105hz1sgbr790mq4kmj
 *
 * The key is its own HKDF derivation (info "tumbler/tech-token/v1"), not the MQTT
 * signing key: a tag made for one protocol can then never be replayed as the other's.
 * An 80-bit tag is plenty against online guessing, which the console's login lockout
 * limits to a handful of tries every few minutes.
 */

export const TECH_TOKEN_VERSION = 'tt1';
/** Longest validity a token may be minted with: a visit, not a standing credential. */
export const TECH_TOKEN_MAX_VALID_MS = 24 * 3_600_000;
/** Longest text `verifyTechToken` looks at; anything longer is malformed without parsing. */
export const TECH_TOKEN_MAX_LENGTH = 128;

const EXPIRY_BYTES = 5;
const NONCE_BYTES = 5;
const TAG_BYTES = 10;
const BODY_BYTES = EXPIRY_BYTES + NONCE_BYTES + TAG_BYTES;
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOKEN = /^tt1\.([A-Za-z0-9_-]{1,64})\.([0-9A-Za-z]{32})$/;

export interface TechToken {
  deviceId: string;
  /** Epoch ms (whole seconds) from which the token no longer logs in. */
  expiresAt: number;
  /** The nonce in hex: names the token in audit rows without revealing it. */
  tokenId: string;
}

export type TechTokenRefusal = 'malformed' | 'wrong_device' | 'bad_signature' | 'expired';

export type TechTokenCheck =
  | { ok: true; token: TechToken }
  | { ok: false; reason: TechTokenRefusal; token?: TechToken };

/** The token key of a device: HKDF-SHA256 of the device secret, like every other device key. */
export function deriveTechKey(secret: Uint8Array): Uint8Array {
  if (!(secret instanceof Uint8Array)) throw new TypeError('secret must be a Uint8Array');
  if (secret.length !== 32) throw new RangeError('secret must be 32 bytes');
  return hkdf(sha256, secret, utf8ToBytes(DEVICE_KDF_SALT), utf8ToBytes('tumbler/tech-token/v1'), 32);
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.length !== 32) throw new RangeError('key must be 32 bytes');
}

/** Expiry in epoch seconds as 5 big-endian bytes (good until the year 36812). */
function writeUint40(bytes: Uint8Array, value: number): void {
  bytes[0] = Math.floor(value / 2 ** 32) & 0xff;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(1, value % 2 ** 32);
}

function readUint40(bytes: Uint8Array): number {
  return bytes[0]! * 2 ** 32 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
}

function tag(key: Uint8Array, deviceId: string, expiryAndNonce: Uint8Array): Uint8Array {
  const label = utf8ToBytes(`tumbler/tech-token/v1\n${deviceId}\n`);
  const message = new Uint8Array(label.length + expiryAndNonce.length);
  message.set(label);
  message.set(expiryAndNonce, label.length);
  return hmac(sha256, key, message).subarray(0, TAG_BYTES);
}

/**
 * Mints a token for `deviceId` that logs in until `now + validForMs` (rounded down to
 * the second). `nonce` is for known-answer tests; a fresh random one otherwise.
 */
export function mintTechToken(
  key: Uint8Array,
  deviceId: string,
  validForMs: number,
  now: number,
  nonce: Uint8Array = new Uint8Array(randomBytes(NONCE_BYTES)),
): string {
  checkKey(key);
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    throw new TypeError('deviceId must be 1-64 letters, digits, _ or -');
  }
  if (!Number.isFinite(validForMs) || validForMs < 1000 || validForMs > TECH_TOKEN_MAX_VALID_MS) {
    throw new RangeError(`validForMs must be from 1000 to ${TECH_TOKEN_MAX_VALID_MS} (24 h)`);
  }
  if (!Number.isFinite(now) || now <= 0) throw new RangeError('now must be epoch ms');
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) {
    throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
  }
  const body = new Uint8Array(BODY_BYTES);
  writeUint40(body, Math.floor((now + validForMs) / 1000));
  body.set(nonce, EXPIRY_BYTES);
  body.set(tag(key, deviceId, body.subarray(0, EXPIRY_BYTES + NONCE_BYTES)), EXPIRY_BYTES + NONCE_BYTES);
  return `${TECH_TOKEN_VERSION}.${deviceId}.${encodeBase32(body)}`;
}

/**
 * Checks a token typed at the console of `deviceId` at wall time `now`. Refusals are
 * values; the tag is compared in constant time. `expired` is only reported for a token
 * whose tag verified, so a forger learns nothing from it.
 */
export function verifyTechToken(
  key: Uint8Array,
  deviceId: string,
  text: string,
  now: number,
): TechTokenCheck {
  checkKey(key);
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    throw new TypeError('deviceId must be 1-64 letters, digits, _ or -');
  }
  if (!Number.isFinite(now)) throw new RangeError('now must be epoch ms');
  if (typeof text !== 'string' || text.length > TECH_TOKEN_MAX_LENGTH)
    return { ok: false, reason: 'malformed' };
  const match = TOKEN.exec(text.trim());
  if (!match) return { ok: false, reason: 'malformed' };
  const body = decodeBase32(match[2]!);
  if (!body || body.length !== BODY_BYTES) return { ok: false, reason: 'malformed' };
  if (match[1] !== deviceId) return { ok: false, reason: 'wrong_device' };
  const expected = tag(key, deviceId, body.subarray(0, EXPIRY_BYTES + NONCE_BYTES));
  if (!timingSafeEqual(expected, body.subarray(EXPIRY_BYTES + NONCE_BYTES)))
    return { ok: false, reason: 'bad_signature' };
  const token: TechToken = {
    deviceId,
    expiresAt: readUint40(body) * 1000,
    tokenId: bytesToHex(body.subarray(EXPIRY_BYTES, EXPIRY_BYTES + NONCE_BYTES)),
  };
  if (now >= token.expiresAt) return { ok: false, reason: 'expired', token };
  return { ok: true, token };
}
