import { chmodSync, closeSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TumblerError } from '../errors.ts';
import type { AuditLog } from './audit.ts';
import { type Db, openDatabase } from './db.ts';
import {
  attachStoreMarker,
  bindStoreKey,
  keyFingerprint,
  readStoreIdentity,
  readStoreMarker,
  type StoreIdentity,
  type StoreMarker,
  writeStoreMarker,
} from './identity.ts';
import { OfflineStore } from './offline.ts';
import { createDeviceSecret, DEVICE_KEY_FILE, readDeviceSecret } from './secret.ts';
import type { StateStore } from './state.ts';

/**
 * Opening a data dir: which files are there decides what may happen (docs/reliability.md,
 * "What survives the loss of each file"). A store is created only where nothing of one
 * exists and `init` allows it; a lost database is replaced only when asked
 * (`replaceLost`), and the new store starts past every offline code of the old one.
 * Everything else that does not fit together is refused with one line naming the file
 * and the way back.
 */

export const DB_FILE = 'lock.db';

export interface OpenStoreOptions {
  /** Create a store where none exists (`lockfw run --init`). */
  init?: boolean;
  /** Start a new, empty store beside a device.key whose lock.db is lost (`--replace-lost-store`). */
  replaceLost?: boolean;
  /**
   * device.key was in the data dir before this start could write one (`lockfw run`,
   * read before `--provisioning`): then a store lived here, and `init` makes no new one
   * beside it even when lock.db and store.id are both gone (`--init` can stay in a unit's
   * first-boot arguments for good).
   */
  keyFoundAtStart?: boolean;
}

/** Whether `dataDir` holds a device.key (any file by that name). */
export function deviceKeyPresent(dataDir: string): boolean {
  try {
    lstatSync(join(dataDir, DEVICE_KEY_FILE));
    return true;
  } catch {
    return false;
  }
}

export interface BoundStore {
  db: Db;
  secret: Uint8Array;
  identity: StoreIdentity;
  /** `store.id` as found (undefined: none yet). */
  marker: StoreMarker | undefined;
}

/** The state key a replacement store keeps what it replaced under, until it is announced. */
export const STORE_ORIGIN_KEY = 'store_origin';
export interface StoreOrigin {
  replaces: string;
  offlineKeyVersion: number;
  announced: boolean;
}

export function parseStoreOrigin(value: unknown): StoreOrigin | undefined {
  const v = value as Partial<StoreOrigin> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.replaces !== 'string' || !/^[0-9a-f]{32}$/.test(v.replaces)) return undefined;
  if (!Number.isSafeInteger(v.offlineKeyVersion) || (v.offlineKeyVersion as number) < 1) return undefined;
  if (typeof v.announced !== 'boolean') return undefined;
  return { replaces: v.replaces, offlineKeyVersion: v.offlineKeyVersion!, announced: v.announced };
}

type FileState = 'missing' | 'empty' | 'present';

function fileState(path: string, what: string, code: string): FileState {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return 'missing';
    throw new TumblerError(code, `cannot read ${path} (${errno ?? 'error'})`);
  }
  if (!stat.isFile()) throw new TumblerError(code, `${path} is not a regular file (${what})`);
  return stat.size === 0 ? 'empty' : 'present';
}

/** lock.db and its WAL files: 0600 whatever the umask (SQLite gives -wal and -shm the db's mode). */
function tightenDbModes(dbPath: string): void {
  for (const path of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    try {
      if ((lstatSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

const RECOVERY = 'docs/reliability.md, "What survives the loss of each file"';

/** Opens (or, where allowed, creates) the store in `dataDir`, checking database, key and marker agree. */
export function openBoundStore(dataDir: string, options: OpenStoreOptions = {}): BoundStore {
  const keyPath = join(dataDir, DEVICE_KEY_FILE);
  const dbPath = join(dataDir, DB_FILE);
  const keyState = fileState(keyPath, 'the device key', 'device_key_invalid');
  const dbState = fileState(dbPath, 'the database', 'db_invalid');
  const marker = readStoreMarker(dataDir);

  if (dbState === 'present') {
    if (options.replaceLost)
      throw new TumblerError(
        'store_not_lost',
        `--replace-lost-store: ${dbPath} is here; there is nothing to replace (remove the flag)`,
      );
    if (keyState === 'missing')
      throw new TumblerError(
        'device_key_missing',
        `${keyPath} is missing beside lock.db: restore it from a backup, or start with --provisioning FILE; a new key would make every code unusable (${RECOVERY})`,
      );
    const secret = readDeviceSecret(keyPath);
    const fingerprint = keyFingerprint(secret);
    tightenDbModes(dbPath);
    const db = openDatabase(dbPath);
    try {
      const identity = readStoreIdentity(db);
      if (
        (identity.keyFingerprint !== null && identity.keyFingerprint !== fingerprint) ||
        (marker && marker.keyFingerprint !== fingerprint)
      ) {
        throw new TumblerError(
          'device_key_mismatch',
          `${keyPath} is not the key ${identity.keyFingerprint !== fingerprint ? 'lock.db' : 'store.id'} was made with: restore the right device.key (or start with its --provisioning FILE) (${RECOVERY})`,
        );
      }
      if (marker && marker.incarnation !== identity.incarnation && !replaces(db, marker.incarnation)) {
        throw new TumblerError(
          'store_mismatch',
          `${dbPath} is store ${identity.incarnation}, but store.id says store ${marker.incarnation} lived here: put back that store's lock.db, or remove store.id to adopt this one (${RECOVERY})`,
        );
      }
      // A database from before the binding (or a first start cut short) is bound now.
      if (identity.keyFingerprint === null) bindStoreKey(db, fingerprint);
      attachStoreMarker(db, dataDir);
      return { db, secret, identity: { ...identity, keyFingerprint: fingerprint }, marker };
    } catch (error) {
      db.close();
      throw error;
    }
  }

  // No database (or an empty file where it was).
  let secret: Uint8Array;
  let replacing: StoreMarker | undefined;
  if (marker) {
    if (!options.replaceLost) {
      const lostKey = keyState === 'missing' ? ' and device.key' : '';
      throw new TumblerError(
        'store_lost',
        `${dbPath}${lostKey} ${dbState === 'empty' ? 'is empty' : 'is missing'}, but store.id shows store ${marker.incarnation} lived here: its codes, use counts and audit log are lost. Restore lock.db from a backup, or start once with lockfw run --replace-lost-store to begin an empty store (${RECOVERY})`,
      );
    }
    if (keyState === 'missing')
      throw new TumblerError(
        'device_key_missing',
        `${keyPath} is missing too: restore it from a backup, or start with --provisioning FILE (${RECOVERY})`,
      );
    secret = readDeviceSecret(keyPath);
    if (keyFingerprint(secret) !== marker.keyFingerprint)
      throw new TumblerError(
        'device_key_mismatch',
        `${keyPath} is not the key store.id was made with: restore the right device.key (or start with its --provisioning FILE) (${RECOVERY})`,
      );
    replacing = marker;
  } else {
    if (options.replaceLost)
      throw new TumblerError(
        'store_not_lost',
        `--replace-lost-store: no store.id in ${dataDir}, so no store lived here (first start: --init)`,
      );
    if (!options.init)
      throw new TumblerError(
        'store_missing',
        `no lock store in ${dataDir} (first start: lockfw run --init) (${RECOVERY})`,
      );
    if (options.keyFoundAtStart)
      throw new TumblerError(
        'store_lost',
        `${keyPath} is here but neither lock.db nor store.id: the store that lived here is lost, with its codes, use counts and offline-code state. Restore lock.db and store.id from a backup (a first start cut short before its store existed: remove device.key and start again); --init makes no store beside a device.key that was already here (${RECOVERY})`,
      );
    secret = keyState === 'missing' ? createDeviceSecret(dataDir) : readDeviceSecret(keyPath);
  }
  const fingerprint = keyFingerprint(secret);
  // The data dir holds the device secret: 0700 whatever the umask or whoever made it.
  if ((lstatSync(dataDir).mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
  // What is left of a lost database belongs to it, never to the new one.
  removeIfPresent(`${dbPath}-wal`);
  removeIfPresent(`${dbPath}-shm`);
  if (dbState === 'empty') removeIfPresent(dbPath);
  closeSync(openSync(dbPath, 'wx', 0o600));
  const db = openDatabase(dbPath);
  try {
    db.transaction(() => {
      bindStoreKey(db, fingerprint);
      if (replacing) {
        const version = replacing.offlineKeyVersion + 1;
        new OfflineStore(db).raiseKeyVersion(version, Date.now());
        const origin: StoreOrigin = {
          replaces: replacing.incarnation,
          offlineKeyVersion: version,
          announced: false,
        };
        db.prepare('INSERT INTO state (key, value) VALUES (?, ?)').run(
          STORE_ORIGIN_KEY,
          JSON.stringify(origin),
        );
      }
    }).immediate();
    attachStoreMarker(db, dataDir);
    return { db, secret, identity: readStoreIdentity(db), marker };
  } catch (error) {
    db.close();
    throw error;
  }
}

function replaces(db: Db, incarnation: string): boolean {
  const row = db
    .prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?')
    .get(STORE_ORIGIN_KEY);
  if (!row) return false;
  let value: unknown;
  try {
    value = JSON.parse(row.value);
  } catch {
    return false;
  }
  return parseStoreOrigin(value)?.replaces === incarnation;
}

/**
 * Finishes opening: announces a replacement store once (audited, so the gateway hears
 * of it), brings the offline key up to the floor store.id holds (a lock.db restored
 * from an older backup must not re-open codes erased since), and writes store.id.
 * Returns what it announced, for the caller's log.
 */
export function settleBinding(
  dataDir: string,
  bound: BoundStore,
  audit: AuditLog,
  state: StateStore,
): { replaced?: StoreOrigin; offlineKeyRaised?: { from: number; to: number } } {
  const { db, identity } = bound;
  const offline = new OfflineStore(db);
  const result: { replaced?: StoreOrigin; offlineKeyRaised?: { from: number; to: number } } = {};
  db.transaction(() => {
    const now = Date.now();
    const origin = state.get<Partial<StoreOrigin>>(STORE_ORIGIN_KEY, {});
    const parsed = parseStoreOrigin(origin);
    if (parsed && !parsed.announced) {
      audit.append(
        'store_replaced',
        { lost_incarnation: parsed.replaces, offline_key_version: parsed.offlineKeyVersion },
        now,
      );
      state.set(STORE_ORIGIN_KEY, { ...parsed, announced: true });
      result.replaced = parsed;
    }
    const marker = bound.marker;
    const from = offline.keyVersion();
    if (marker && marker.incarnation === identity.incarnation && marker.offlineKeyVersion > from) {
      offline.raiseKeyVersion(marker.offlineKeyVersion, now);
      audit.append(
        'offline_key_rotated',
        { from_version: from, to_version: marker.offlineKeyVersion, reason: 'store_marker' },
        now,
      );
      result.offlineKeyRaised = { from, to: marker.offlineKeyVersion };
    }
  }).immediate();
  const version = offline.keyVersion();
  const marker = bound.marker;
  if (
    !marker ||
    marker.incarnation !== identity.incarnation ||
    marker.keyFingerprint !== identity.keyFingerprint ||
    marker.offlineKeyVersion !== version
  ) {
    writeStoreMarker(dataDir, {
      incarnation: identity.incarnation,
      keyFingerprint: identity.keyFingerprint!,
      offlineKeyVersion: version,
    });
  }
  return result;
}
