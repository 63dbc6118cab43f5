import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import type { Hal } from '../hal/index.ts';
import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';
import { CodeAdmin } from './admin.ts';
import { TrustedClock } from './clock.ts';
import type { FirmwareConfig } from './config.ts';
import { TumblerError } from './errors.ts';
import { LockManager, type OfflineResolver } from './lock-manager.ts';
import { createLogger, type LogControl, type Logger, nullSink } from './log.ts';
import { deriveDeviceKeys } from './provisioning.ts';
import { AuditLog } from './store/audit.ts';
import {
  type BoundStore,
  type OpenStoreOptions,
  openBoundStore,
  type StoreOrigin,
  settleBinding,
} from './store/binding.ts';
import { CodeStore } from './store/codes.ts';
import type { Db } from './store/db.ts';
import { AuditRetention } from './store/retention.ts';
import { StateStore } from './store/state.ts';
import { STATE_KEYS } from './store/state-keys.ts';
import { isStorageError } from './store/storage-health.ts';

export { DB_FILE } from './store/binding.ts';

const FLOOR_SAVE_INTERVAL_MS = 10 * 60_000;

export interface FirmwareOptions {
  dataDir: string;
  hal: Hal;
  scheduler: Scheduler;
  config: FirmwareConfig;
  log?: LogControl;
  /** Builds the offline-code path once the store is open. */
  offline?: (parts: StoreParts, config: FirmwareConfig) => OfflineResolver;
  /** The store, opened before anything else starts (lockfw run); else opened here with `init`. */
  store?: StoreParts;
}

export interface StoreParts {
  db: Db;
  secret: Uint8Array;
  codes: CodeStore;
  audit: AuditLog;
  state: StateStore;
  /** This database's incarnation id (firmware/store/identity.ts). */
  incarnation: string;
  /** Set on the first open of a store made to replace a lost one (lockfw run --replace-lost-store). */
  replaced?: StoreOrigin;
}

/** One running lock: the store, the trusted clock and the lock manager on a HAL. */
export interface Firmware extends StoreParts {
  readonly config: FirmwareConfig;
  readonly dataDir: string;
  readonly manager: LockManager;
  readonly clock: TrustedClock;
  readonly admin: CodeAdmin;
  readonly log: Logger;
  /** The timebase of every timer in the lock (the MQTT link's too). */
  readonly scheduler: Scheduler;
  /** Random per boot; events carry it (docs/protocol.md). */
  readonly bootId: string;
  /** Clean shutdown: stops the motor (safe state), timers, and closes the database. */
  close(): Promise<void>;
  /** Power cut: drops everything without a shutdown step (the database is simply closed). */
  crash(): void;
}

/** Checks the data dir is a writable directory; creates it (mode 0700) only when asked. */
export function checkDataDir(dataDir: string, create: boolean): void {
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = statSync(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      throw new TumblerError('data_dir_invalid', `cannot use data dir ${dataDir} (${code})`);
  }
  if (!stat) {
    if (!create)
      throw new TumblerError(
        'data_dir_missing',
        `data dir ${dataDir} does not exist (create it, or pass --init)`,
      );
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return;
  }
  if (!stat.isDirectory()) throw new TumblerError('data_dir_invalid', `--data ${dataDir} is not a directory`);
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch {
    throw new TumblerError('data_dir_readonly', `data dir ${dataDir} is not writable by this user`);
  }
}

/**
 * Opens the store in `dataDir`: database, device key and store.id must belong together
 * (firmware/store/binding.ts); a store is created only where none exists and `init`
 * (default true for the library; the CLI passes its flag) allows it. Stored state is
 * parsed here, so a damaged key refuses the open rather than resetting anything.
 */
export function openStore(dataDir: string, options: OpenStoreOptions = { init: true }): StoreParts {
  const bound = openBoundStore(dataDir, options);
  try {
    return finishStore(dataDir, bound);
  } catch (error) {
    bound.db.close();
    throw error;
  }
}

function finishStore(dataDir: string, bound: BoundStore): StoreParts {
  const { db, secret } = bound;
  const state = new StateStore(db, STATE_KEYS);
  state.verify();
  const audit = openAuditLog(db, secret);
  const settled = settleBinding(dataDir, bound, audit, state);
  return {
    ...(settled.replaced ? { replaced: settled.replaced } : {}),
    db,
    secret,
    codes: new CodeStore(db, secret),
    audit,
    state,
    incarnation: bound.identity.incarnation,
  };
}

/** The keyed audit chain; a log from before the key is re-chained once (firmware/store/audit.ts). */
function openAuditLog(db: Db, secret: Uint8Array): AuditLog {
  const audit = new AuditLog(db, deriveDeviceKeys(secret).audit);
  audit.upgradeLegacyChain(Date.now());
  return audit;
}

export async function startFirmware(options: FirmwareOptions): Promise<Firmware> {
  const { dataDir, hal, scheduler, config } = options;
  const logControl: LogControl = options.log ?? { level: 'silent', sink: nullSink };
  const log = createLogger('lockfw', logControl);
  const parts = options.store ?? openStore(dataDir);
  const bootId = randomBytes(8).toString('hex');
  let clock: TrustedClock;
  let manager: LockManager | undefined;
  try {
    clock = new TrustedClock(
      hal.rtc,
      parts.state,
      { floorToleranceMs: config.clockFloorToleranceSeconds * 1000 },
      parts.audit.lastClockFloor(),
    );
    const floorNow = clock;
    parts.audit.stamp({ bootId, clockFloor: () => floorNow.floor });
    const offline = options.offline?.(parts, config);
    manager = new LockManager({
      ...parts,
      hal,
      scheduler,
      clock,
      config,
      log: log.child('lock'),
      ...(offline ? { offline } : {}),
    });
    await manager.start();
  } catch (error) {
    // A start-up that fails leaves nothing running and the store closed.
    manager?.dispose();
    parts.db.close();
    throw error;
  }
  const floorTimer: TimerHandle = scheduler.every(FLOOR_SAVE_INTERVAL_MS, () => {
    clock
      .now()
      .then(() => clock.persistFloor())
      .catch((error: unknown) => log.warn('floor save failed', { error: (error as Error).message }));
  });
  const stopRetention = new AuditRetention(parts.db, parts.audit, {
    keepRows: config.auditKeepRows,
    keepUnacknowledged: config.mqtt !== undefined,
  }).start(scheduler, log.child('retention'));
  let closed = false;
  const shutdown = () => {
    if (closed) return false;
    closed = true;
    scheduler.cancel(floorTimer);
    stopRetention();
    manager.dispose();
    return true;
  };
  log.info('ready', { device_id: config.deviceId, hal: hal.kind, data_dir: dataDir });
  return {
    ...parts,
    config,
    dataDir,
    manager,
    clock,
    admin: new CodeAdmin(parts.db, parts.codes, parts.audit, config.codeCapacity),
    log,
    scheduler,
    bootId,
    async close() {
      if (!shutdown()) return;
      hal.actuator.stop();
      try {
        clock.persistFloor();
      } catch (error) {
        // The audit rows carry the floor too: a full disk at shutdown loses nothing.
        if (!isStorageError(error)) throw error;
        log.warn('floor save failed', { error: (error as Error).message });
      }
      parts.db.close();
    },
    crash() {
      if (!shutdown()) return;
      parts.db.close();
    },
  };
}
