import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TumblerError } from '../errors.ts';

export const DEVICE_KEY_FILE = 'device.key';

/**
 * The device secret: 32 random bytes made at first boot, kept beside (not inside) the
 * database with mode 0600, so a copied database alone does not reveal the PIN hashes' key.
 * Written to a temporary file, fsynced and renamed, so a power cut never leaves half a key.
 */
export function loadOrCreateDeviceSecret(dataDir: string): Uint8Array {
  const path = join(dataDir, DEVICE_KEY_FILE);
  if (existsSync(path)) return readDeviceSecret(path);
  const secret = randomBytes(32);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${secret.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dirFd = openSync(dataDir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return new Uint8Array(secret);
}

export function readDeviceSecret(path: string): Uint8Array {
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new TumblerError('device_key_invalid', `${path} is not a 64-hex-digit device key`);
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}
