import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { DEVICE_KDF_SALT } from '../access/offline.ts';
import { TumblerError } from '../errors.ts';
import type { Db } from './db.ts';
import { writeFileDurably } from './durable-file.ts';

/**
 * Binds a database and its device key to each other, so that neither can be lost or
 * swapped without the lock noticing (docs/reliability.md, "What survives the loss of
 * each file"). The database records the key's fingerprint; `store.id`, a small file
 * beside the key, records which database lived here and the offline key version it had
 * reached, so a lost `lock.db` is refused rather than silently recreated, and a store
 * made to replace it starts past every offline code issued before.
 */

export const STORE_MARKER_FILE = 'store.id';

/** Who this database is: made once when it is created, never changed after. */
export interface StoreIdentity {
  /** 32 hex digits, random per created database; events and acks carry it. */
  incarnation: string;
  /** Fingerprint of the device key the database belongs to (null until first bound). */
  keyFingerprint: string | null;
  createdAt: number;
}

/** What `store.id` holds. */
export interface StoreMarker {
  incarnation: string;
  keyFingerprint: string;
  /** The offline key version reached (a floor: raised before an erase commits). */
  offlineKeyVersion: number;
}

/** A 32-hex-digit fingerprint of the device secret (HKDF, so it reveals nothing of it). */
export function keyFingerprint(secret: Uint8Array): string {
  return bytesToHex(
    hkdf(sha256, secret, utf8ToBytes(DEVICE_KDF_SALT), utf8ToBytes('tumbler/store-binding/v1'), 16),
  );
}

export function readStoreIdentity(db: Db): StoreIdentity {
  const row = db
    .prepare<[], { incarnation: string; key_fingerprint: string | null; created_at: number }>(
      'SELECT incarnation, key_fingerprint, created_at FROM store_identity WHERE id = 1',
    )
    .get();
  if (!row) throw new TumblerError('store_corrupt', 'lock.db has no store identity row');
  return { incarnation: row.incarnation, keyFingerprint: row.key_fingerprint, createdAt: row.created_at };
}

/** Records the key a database belongs to; only ever once (a bound database keeps its key). */
export function bindStoreKey(db: Db, fingerprint: string): void {
  db.prepare('UPDATE store_identity SET key_fingerprint = ? WHERE id = 1 AND key_fingerprint IS NULL').run(
    fingerprint,
  );
}

const HEX32 = /^[0-9a-f]{32}$/;

/** Reads `store.id`; undefined when there is none. A damaged one is refused, never ignored. */
export function readStoreMarker(dataDir: string): StoreMarker | undefined {
  const path = join(dataDir, STORE_MARKER_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new TumblerError('store_marker_invalid', `cannot read ${path} (${code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const v = (value ?? {}) as Record<string, unknown>;
  if (
    typeof v.incarnation !== 'string' ||
    !HEX32.test(v.incarnation) ||
    typeof v.key_fingerprint !== 'string' ||
    !HEX32.test(v.key_fingerprint) ||
    !Number.isSafeInteger(v.offline_key_version) ||
    (v.offline_key_version as number) < 1
  ) {
    throw new TumblerError(
      'store_marker_invalid',
      `${path} is damaged (restore it from a backup; docs/reliability.md)`,
    );
  }
  return {
    incarnation: v.incarnation,
    keyFingerprint: v.key_fingerprint,
    offlineKeyVersion: v.offline_key_version as number,
  };
}

/** Writes `store.id` (mode 0600): temporary file, fsync, rename, fsync the directory. */
export function writeStoreMarker(dataDir: string, marker: StoreMarker): void {
  const path = join(dataDir, STORE_MARKER_FILE);
  const text = `${JSON.stringify({
    incarnation: marker.incarnation,
    key_fingerprint: marker.keyFingerprint,
    offline_key_version: marker.offlineKeyVersion,
  })}\n`;
  writeFileDurably(path, text);
}

const markerDirs = new WeakMap<Db, string>();

/** Ties an open database to the data dir whose `store.id` must follow its offline key version. */
export function attachStoreMarker(db: Db, dataDir: string): void {
  markerDirs.set(db, dataDir);
}

/**
 * Raises `store.id`'s offline key version to `version`. Called inside the transaction
 * that rotates the key, before it commits: if the file cannot be written the rotation
 * is rolled back, and a lost database can never take the lock back below it.
 */
export function noteOfflineKeyVersion(db: Db, version: number): void {
  const dataDir = markerDirs.get(db);
  if (dataDir === undefined) return;
  const marker = readStoreMarker(dataDir);
  if (!marker || marker.offlineKeyVersion >= version) return;
  writeStoreMarker(dataDir, { ...marker, offlineKeyVersion: version });
}
