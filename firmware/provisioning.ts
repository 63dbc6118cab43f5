import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { DEFAULT_CODE_LENGTH, DEVICE_KDF_SALT, deriveOfflineKey } from './access/offline.ts';
import { TumblerError } from './errors.ts';
import { writeFileDurably } from './store/durable-file.ts';
import { DEVICE_KEY_FILE, readDeviceSecret } from './store/secret.ts';
import { describeZodError, isoInstantSchema } from './validation.ts';

/**
 * The provisioning record: the secret a lock and the cloud share from the factory or
 * the installer's laptop (`lockctl provision`). On the lock it becomes device.key, the
 * one secret every other key is derived from; the cloud keeps the same file to issue
 * offline codes. Messages about it name fields, never the secret.
 */

export const PROVISIONING_SUFFIX = '.provisioning.json';

const provisioningSchema = z
  .object({
    deviceId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    secret: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (32 bytes)'),
    createdAt: isoInstantSchema,
  })
  .strict();

export interface ProvisioningRecord {
  deviceId: string;
  /** The 32-byte device secret. */
  secret: Uint8Array;
  createdAt: string;
}

/** A new record with a fresh random secret. */
export function createProvisioning(deviceId: string, now: number = Date.now()): ProvisioningRecord {
  const record = {
    deviceId,
    secret: new Uint8Array(randomBytes(32)),
    createdAt: new Date(now).toISOString(),
  };
  checkRecord(record);
  return record;
}

function checkRecord(record: ProvisioningRecord): void {
  if (!(record.secret instanceof Uint8Array) || record.secret.length !== 32)
    throw new RangeError('record.secret must be 32 bytes');
  const parsed = provisioningSchema.safeParse({ ...record, secret: '0'.repeat(64) });
  if (!parsed.success) throw new TypeError(`record: ${describeZodError(parsed.error)}`);
}

/** Reads and checks a provisioning file; errors name the file and the field. */
export function readProvisioning(path: string): ProvisioningRecord {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TumblerError(
      'provisioning_unreadable',
      `cannot read provisioning file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message can quote the file's text, and the file holds the secret.
    throw new TumblerError('provisioning_invalid', `provisioning file ${path} is not valid JSON`);
  }
  const parsed = provisioningSchema.safeParse(json);
  if (!parsed.success)
    throw new TumblerError(
      'provisioning_invalid',
      `provisioning file ${path}: ${describeZodError(parsed.error)}`,
    );
  return {
    deviceId: parsed.data.deviceId,
    secret: new Uint8Array(Buffer.from(parsed.data.secret, 'hex')),
    createdAt: parsed.data.createdAt,
  };
}

/** Writes a provisioning file (mode 0600); refuses to overwrite one. */
export function writeProvisioning(path: string, record: ProvisioningRecord): void {
  checkRecord(record);
  if (existsSync(path))
    throw new TumblerError(
      'provisioning_exists',
      `${path} exists already; refusing to overwrite a device secret`,
    );
  const json = {
    deviceId: record.deviceId,
    secret: Buffer.from(record.secret).toString('hex'),
    createdAt: record.createdAt,
  };
  writeFileDurably(path, `${JSON.stringify(json, null, 2)}\n`);
}

/** The file name `lockctl provision` uses for a device. */
export function provisioningFileName(deviceId: string): string {
  return `${deviceId}${PROVISIONING_SUFFIX}`;
}

export interface DeviceKeys {
  /** The offline-code key for a key version (and code length, default 12). */
  offline(version: number, length?: number): Uint8Array;
  /** The key that signs MQTT envelopes (firmware/sync). */
  signing: Uint8Array;
  /** The key of the audit log's HMAC chain (firmware/store/audit.ts). */
  audit: Uint8Array;
}

/** Every key the lock uses, derived from the device secret with HKDF-SHA256 (distinct info strings). */
export function deriveDeviceKeys(secret: Uint8Array): DeviceKeys {
  if (!(secret instanceof Uint8Array)) throw new TypeError('secret must be a Uint8Array');
  if (secret.length !== 32) throw new RangeError('secret must be 32 bytes');
  return {
    offline: (version: number, length = DEFAULT_CODE_LENGTH) =>
      deriveOfflineKey(secret, version, length).bytes,
    signing: hkdf(sha256, secret, utf8ToBytes(DEVICE_KDF_SALT), utf8ToBytes('tumbler/mqtt-signing/v1'), 32),
    audit: hkdf(sha256, secret, utf8ToBytes(DEVICE_KDF_SALT), utf8ToBytes('tumbler/audit-chain/v1'), 32),
  };
}

/**
 * First boot with a provisioning file: writes device.key from it. Booting again with
 * the same file is a no-op; a data dir whose device.key differs is refused (its code
 * hashes, audit and offline codes belong to that other secret).
 */
export function installProvisioning(dataDir: string, provisioningFile: string): ProvisioningRecord {
  const record = readProvisioning(provisioningFile);
  const keyPath = join(dataDir, DEVICE_KEY_FILE);
  if (existsSync(keyPath)) {
    const existing = readDeviceSecret(keyPath);
    if (existing.length !== record.secret.length || !timingSafeEqual(existing, record.secret)) {
      throw new TumblerError(
        'device_key_mismatch',
        `${keyPath} holds a different device secret than ${provisioningFile} (device ${record.deviceId}); refusing to replace it`,
      );
    }
    return record;
  }
  writeFileDurably(keyPath, `${Buffer.from(record.secret).toString('hex')}\n`);
  return record;
}
