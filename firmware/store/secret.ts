import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TumblerError } from '../errors.ts';
import { writeFileDurably } from './durable-file.ts';

export const DEVICE_KEY_FILE = 'device.key';

/**
 * The device secret: 32 random bytes made when a store is first created, kept beside
 * (not inside) the database with mode 0600, so a copied database alone does not reveal
 * the PIN hashes' key. Never made again for an existing store: the database records the
 * key's fingerprint (firmware/store/identity.ts), and a missing key is refused.
 */
export function createDeviceSecret(dataDir: string): Uint8Array {
  const secret = randomBytes(32);
  writeFileDurably(join(dataDir, DEVICE_KEY_FILE), `${secret.toString('hex')}\n`);
  return new Uint8Array(secret);
}

/** Reads and checks a device key file; a damaged or unreadable one is refused, never replaced. */
export function readDeviceSecret(path: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new TumblerError(
      'device_key_unreadable',
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new TumblerError(
      'device_key_invalid',
      `${path} is not a 64-hex-digit device key (restore it from a backup or its provisioning file; docs/reliability.md)`,
    );
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}
