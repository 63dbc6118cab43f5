import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { DEVICE_KDF_SALT } from '../access/offline.ts';

/**
 * Optional PIN encryption in desired/codes: AES-256-GCM under a key derived from the
 * device secret, with the device id and the code's ref as associated data (a PIN
 * cannot be moved to another code or lock). The broker then never sees a PIN.
 */
export function pinKey(secret: Uint8Array): Uint8Array {
  return hkdf(sha256, secret, utf8ToBytes(DEVICE_KDF_SALT), utf8ToBytes('tumbler/pin-encryption/v1'), 32);
}

export function encryptPin(key: Uint8Array, deviceId: string, ref: string, pin: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`${deviceId}\n${ref}`));
  const body = Buffer.concat([cipher.update(pin, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The PIN, or undefined when the ciphertext does not open under this key for this code. */
export function decryptPin(
  key: Uint8Array,
  deviceId: string,
  ref: string,
  sealed: string,
): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < 12 + 1 + 16 || bytes.length > 12 + 64 + 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${deviceId}\n${ref}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    return undefined;
  }
}
