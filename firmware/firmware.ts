import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hal } from '../hal/index.ts';
import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';
import { CodeAdmin } from './admin.ts';
import { TrustedClock } from './clock.ts';
import type { FirmwareConfig } from './config.ts';
import { TumblerError } from './errors.ts';
import { LockManager, type OfflineResolver } from './lock-manager.ts';
import { createLogger, type LogControl, type Logger, nullSink } from './log.ts';
import { AuditLog } from './store/audit.ts';
import { CodeStore } from './store/codes.ts';
import { type Db, openDatabase } from './store/db.ts';
import { loadOrCreateDeviceSecret } from './store/secret.ts';
import { StateStore } from './store/state.ts';

export const DB_FILE = 'lock.db';
const FLOOR_SAVE_INTERVAL_MS = 10 * 60_000;

export interface FirmwareOptions {
  dataDir: string;
  hal: Hal;
  scheduler: Scheduler;
  config: FirmwareConfig;
  log?: LogControl;
  /** Builds the offline-code path once the store is open. */
  offline?: (parts: StoreParts, config: FirmwareConfig) => OfflineResolver;
}

export interface StoreParts {
  db: Db;
  secret: Uint8Array;
  codes: CodeStore;
  audit: AuditLog;
  state: StateStore;
}

/** One running lock: the store, the trusted clock and the lock manager on a HAL. */
export interface Firmware extends StoreParts {
  readonly config: FirmwareConfig;
  readonly dataDir: string;
  readonly manager: LockManager;
  readonly clock: TrustedClock;
  readonly admin: CodeAdmin;
  readonly log: Logger;
  /** Random per boot; events carry it (docs/protocol.md). */
  readonly bootId: string;
  /** Clean shutdown: stops the motor (safe state), timers, and closes the database. */
  close(): Promise<void>;
  /** Power cut: drops everything without a shutdown step (the database is simply closed). */
  crash(): void;
}

/** Checks the data dir is a directory we can use; creates it only when asked. */
export function checkDataDir(dataDir: string, create: boolean): void {
  try {
    if (!statSync(dataDir).isDirectory())
      throw new TumblerError('data_dir_invalid', `--data ${dataDir} is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (!create)
      throw new TumblerError(
        'data_dir_missing',
        `data dir ${dataDir} does not exist (create it, or pass --init)`,
      );
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  }
}

/** Opens the store in `dataDir` (creating the device secret at first boot). */
export function openStore(dataDir: string): StoreParts {
  const secret = loadOrCreateDeviceSecret(dataDir);
  const db = openDatabase(join(dataDir, DB_FILE));
  return { db, secret, codes: new CodeStore(db, secret), audit: new AuditLog(db), state: new StateStore(db) };
}

export async function startFirmware(options: FirmwareOptions): Promise<Firmware> {
  const { dataDir, hal, scheduler, config } = options;
  const logControl: LogControl = options.log ?? { level: 'silent', sink: nullSink };
  const log = createLogger('lockfw', logControl);
  const parts = openStore(dataDir);
  const bootId = randomBytes(8).toString('hex');
  parts.state.set('boot', { id: bootId });
  const clock = new TrustedClock(hal.rtc, parts.state, {
    floorToleranceMs: config.clockFloorToleranceSeconds * 1000,
  });
  const offline = options.offline?.(parts, config);
  const manager = new LockManager({
    ...parts,
    hal,
    scheduler,
    clock,
    config,
    log: log.child('lock'),
    ...(offline ? { offline } : {}),
  });
  await manager.start();
  const floorTimer: TimerHandle = scheduler.every(FLOOR_SAVE_INTERVAL_MS, () => {
    clock
      .now()
      .then(() => clock.persistFloor())
      .catch((error: unknown) => log.warn('floor save failed', { error: (error as Error).message }));
  });
  let closed = false;
  const shutdown = () => {
    if (closed) return false;
    closed = true;
    scheduler.cancel(floorTimer);
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
    bootId,
    async close() {
      if (!shutdown()) return;
      hal.actuator.stop();
      clock.persistFloor();
      parts.db.close();
    },
    crash() {
      if (!shutdown()) return;
      parts.db.close();
    },
  };
}
