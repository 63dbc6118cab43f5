import { chmodSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { DoorLock } from '@matter/main/clusters/door-lock';
import type { Mode } from '../access/types.ts';
import type { FirmwareConfig } from '../config.ts';
import { TumblerError } from '../errors.ts';
import type { Firmware } from '../firmware.ts';
import type { LockState } from '../lock.ts';
import type { ManagerEvent } from '../lock-manager.ts';
import type { AuditRow } from '../store/audit.ts';

/** The data dir's subdirectory holding the Matter fabric data (keys, certificates, ACLs). */
export const MATTER_DIR = 'matter';

export type MatterConfig = FirmwareConfig['matter'];

export interface PairingCodes {
  /** 11-digit manual pairing code (type it in Apple Home, Google Home, Home Assistant). */
  manualPairingCode: string;
  /** The QR code's payload, `MT:...`. */
  qrPairingCode: string;
}

export interface MatterNode {
  /** The current codes: a factory reset starts a new commissioning window with new ones. */
  readonly pairing: PairingCodes;
  /** Whether at least one fabric holds this lock. */
  commissioned(): boolean;
  /** Fabrics that commissioned the lock (index and label). */
  fabrics(): Array<{ index: number; label: string }>;
  close(): Promise<void>;
}

// Matter's numbers for the firmware's states (Door Lock cluster, Matter 1.3 §5.2).
const LOCK_STATE: Partial<Record<LockState, number>> = { locked: 1, unlocked: 2, jammed: 0 };
const OPERATING_MODE: Record<Mode, number> = { normal: 0, vacation: 1, privacy: 2, passage: 4 };
const DOOR_STATE = { open: 0, closed: 1 } as const;
// A Wiegand reader is a keypad or a card reader: Keypad, as it cannot say which.
const SOURCE = { keypad: 3, wiegand: 3, remote: 2, technician: 1, matter: 7 } as const;

/**
 * Starts the Matter node of `lockfw run --matter`: a Door Lock endpoint whose cluster
 * forwards into the firmware (firmware/matter/door-lock.ts), fabric data in DIR/matter
 * (0700), the firmware's states and events mirrored onto the cluster. matter.js is
 * imported here and only here, so a lock run without --matter never loads it.
 */
export async function startMatter(firmware: Firmware, config: MatterConfig): Promise<MatterNode> {
  const log = firmware.log.child('matter');
  if (config.interface !== undefined && networkInterfaces()[config.interface] === undefined)
    throw new TumblerError(
      'matter_start_failed',
      `matter: no network interface "${config.interface}" (matter.interface) on this machine`,
    );
  const storageDir = join(firmware.dataDir, MATTER_DIR);
  const { MatterUsers } = await import('./users.ts');
  const users = new MatterUsers(firmware, Math.min(firmware.config.codeCapacity, 0xfffd));
  // A factory reset made while the node was not running (or cut short): finish it first.
  if (users.fabricsToErase()) {
    rmSync(storageDir, { recursive: true, force: true });
    users.fabricsErased();
    log.info('matter fabric data erased (factory reset)');
  }
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });
  chmodSync(storageDir, 0o700);

  // matter.js reads process.argv, the environment and a config file, traps signals and sets
  // the exit code unless told not to: lockfw owns all of those.
  const { config: platform } = await import('@matter/nodejs/config');
  if (!platform.isInitialized) {
    platform.defaultStoragePath = storageDir;
    platform.loadProcessArgv = false;
    platform.loadProcessEnv = false;
    platform.loadConfigFile = false;
    platform.trapProcessSignals = false;
    platform.trapUnhandledErrors = false;
    platform.setProcessExitCodeOnError = false;
  }
  const { Endpoint, Environment, Logger, LogLevel, ServerNode } = await import('@matter/main');
  // mDNS (announcements and answers) on that one interface only; matter.js reads this when the
  // node creates its mDNS service.
  if (config.interface !== undefined) Environment.default.vars.set('mdns.networkInterface', config.interface);
  const { DoorLockDevice } = await import('@matter/main/devices/door-lock');
  const { DeviceTypeId, VendorId } = await import('@matter/main/types');
  const { MdnsService } = await import('@matter/main/protocol');
  const { doorLockServerFor, operationErrorFor } = await import('./door-lock.ts');
  const { SCHEDULES_PER_USER } = await import('./schedules.ts');

  // matter.js's own log: warnings and errors only, as JSON lines through ours.
  Logger.format = 'plain';
  Logger.level = LogLevel.WARN;
  for (const destination of Object.values(Logger.destinations)) {
    destination.write = (text, message) =>
      log[message.level >= LogLevel.ERROR ? 'error' : 'warn']('matter.js', {
        facility: message.facility,
        text: text.trim(),
      });
  }

  const Server = doorLockServerFor({
    firmware,
    users,
    requirePinForRemoteOperation: config.requirePinForRemoteOperation,
  });

  const { deviceId } = firmware.config;
  const node = await ServerNode.create({
    id: 'lock',
    // Every address: mDNS announces those of every interface (or of matter.interface), and a
    // controller reconnects to whichever it finds.
    network: { port: config.port },
    commissioning: {
      ...(config.passcode !== undefined ? { passcode: config.passcode } : {}),
      ...(config.discriminator !== undefined ? { discriminator: config.discriminator } : {}),
    },
    productDescription: { name: `Tumbler ${deviceId}`, deviceType: DeviceTypeId(DoorLockDevice.deviceType) },
    basicInformation: {
      vendorName: 'Tumbler',
      // The CSA's test vendor and product ids: a certified product uses its own (docs/matter.md).
      vendorId: VendorId(0xfff1),
      productId: 0x8000,
      productName: 'Tumbler keypad lock',
      productLabel: 'Keypad lock',
      hardwareVersion: 1,
      softwareVersion: 1,
      nodeLabel: deviceId.slice(0, 32),
      serialNumber: deviceId.slice(0, 32),
    },
  });

  // What the firmware owns, read again after start: matter.js restores persisted attribute
  // values, and the lock (or its config) may have changed since they were written.
  const firmwareState = () => {
    const status = firmware.manager.status();
    return {
      lockState: LOCK_STATE[status.lock] ?? null,
      operatingMode: OPERATING_MODE[status.mode],
      doorState: DOOR_STATE[status.door],
      requirePinForRemoteOperation: config.requirePinForRemoteOperation,
      wrongCodeEntryLimit: firmware.config.wrongCodeLimit,
      userCodeTemporaryDisableTime: Math.min(firmware.config.lockoutSeconds, 255),
      autoRelockTime: firmware.config.autoRelockSeconds,
    };
  };
  const endpoint = new Endpoint(DoorLockDevice.with(Server), {
    id: 'door',
    doorLock: {
      ...firmwareState(),
      lockType: 0, // DeadBolt
      actuatorEnabled: true,
      numberOfTotalUsersSupported: users.maxUsers,
      numberOfPinUsersSupported: users.maxUsers,
      numberOfCredentialsSupportedPerUser: 1,
      numberOfWeekDaySchedulesSupportedPerUser: SCHEDULES_PER_USER,
      numberOfYearDaySchedulesSupportedPerUser: SCHEDULES_PER_USER,
      minPinCodeLength: 4,
      maxPinCodeLength: 10,
      credentialRulesSupport: { single: true },
    },
  });
  // Anything that fails from here closes the node (its storage lock and sockets) first.
  const failed = async (error: unknown): Promise<never> => {
    await node.close().catch(() => {});
    throw new TumblerError(
      'matter_start_failed',
      `matter: the node did not start on UDP port ${config.port}: ${(error as Error).message}`,
    );
  };
  await node.add(endpoint).catch(failed);

  type Agent = { get(type: typeof Server): InstanceType<typeof Server> };
  const pending = new Set<Promise<unknown>>();
  const track = (what: string, work: () => Promise<unknown>) => {
    const promise = work()
      .catch((error: unknown) => log.warn(`${what} not mirrored`, { error: (error as Error).message }))
      .finally(() => pending.delete(promise));
    pending.add(promise);
  };
  const set = (values: Partial<Record<string, unknown>>) =>
    track('state', () => endpoint.set({ doorLock: values } as never));
  const emit = (what: string, fn: (lock: InstanceType<typeof Server>) => void) =>
    track(what, async () => endpoint.act(what, (agent) => fn((agent as unknown as Agent).get(Server))));

  const onEvent = (event: ManagerEvent) => {
    switch (event.type) {
      case 'lock': {
        const lockState = LOCK_STATE[event.state];
        if (lockState !== undefined) set({ lockState });
        return;
      }
      case 'mode':
        set({ operatingMode: OPERATING_MODE[event.mode] });
        return;
      case 'decision': {
        // Matter's own commands emit their events with fabric and node; these are the keypad's.
        const { record } = event;
        if (record.source === 'matter') return;
        const owner = record.decision.code ? users.ownerOfCode(record.decision.code.id) : undefined;
        const source = SOURCE[record.source];
        const credentials = owner ? [{ credentialType: 1, credentialIndex: owner.slot.index }] : null;
        if (record.decision.outcome === 'granted')
          emit('lockOperation', (lock) =>
            lock.events.lockOperation.emit(
              {
                lockOperationType: 1,
                operationSource: source,
                userIndex: owner?.user.index ?? null,
                fabricIndex: null,
                sourceNode: null,
                credentials,
              } as DoorLock.LockOperationEvent,
              lock.context,
            ),
          );
        else
          emit('lockOperationError', (lock) =>
            lock.events.lockOperationError.emit(
              {
                lockOperationType: 1,
                operationSource: source,
                operationError: record.decision.outcome === 'denied' ? errorCode(record.decision.reason) : 0,
                userIndex: owner?.user.index ?? null,
                fabricIndex: null,
                sourceNode: null,
                credentials,
              } as DoorLock.LockOperationErrorEvent,
              lock.context,
            ),
          );
        return;
      }
      case 'audit':
        onAudit(event.row);
        return;
      default:
        return;
    }
  };
  const alarm = (alarmCode: number) =>
    emit('doorLockAlarm', (lock) =>
      lock.events.doorLockAlarm.emit({ alarmCode } as DoorLock.DoorLockAlarmEvent, lock.context),
    );
  const onAudit = (row: AuditRow) => {
    const data = row.data as Record<string, unknown>;
    switch (row.type) {
      case 'jammed':
        alarm(0);
        return;
      case 'door_forced':
        set({ doorState: 3 });
        alarm(6);
        return;
      case 'door':
        if (data.state === 'open' || data.state === 'closed') set({ doorState: DOOR_STATE[data.state] });
        return;
      case 'lockout':
        alarm(4);
        return;
      case 'duress':
        alarm(8);
        return;
      case 'factory_reset':
        // The reset's transaction removed the users and marked the fabrics for erasing.
        track('factory reset', () => factoryReset('lock factory reset'));
        return;
      default:
        return;
    }
  };

  // Erasing restarts the node: commissionable again, with its door lock state as first built.
  let erasing = false;
  const factoryReset = async (why: string) => {
    erasing = true;
    try {
      await node.erase();
    } finally {
      erasing = false;
    }
    users.fabricsErased();
    await endpoint.set({ doorLock: firmwareState() } as never);
    restrictFiles(storageDir);
    announcePairing(why);
  };
  const announcePairing = (why: string) => {
    const { manualPairingCode, qrPairingCode } = commissioning().pairingCodes;
    // The one secret lockfw prints, as at start-up (docs/matter.md, Pairing).
    process.stdout.write(
      `${JSON.stringify({ t: new Date().toISOString(), level: 'info', ns: 'lockfw:matter', msg: 'matter pairing', after: why, manual_code: manualPairingCode, qr_payload: qrPairingCode })}\n`,
    );
  };
  const errorCode = (reason: Parameters<typeof operationErrorFor>[0]) => operationErrorFor(reason) as number;

  await node.start().catch(failed);
  // A mirror that fails is a log line: it must never throw into the manager's decision path.
  const offEvents = firmware.manager.onEvent((event) => {
    try {
      onEvent(event);
    } catch (error) {
      log.warn('event not mirrored', { type: event.type, error: (error as Error).message });
    }
  });
  await endpoint.set({ doorLock: firmwareState() } as never).catch(async (error: unknown) => {
    offEvents();
    return failed(error);
  });
  restrictFiles(storageDir);

  const commissioning = () =>
    node.state.commissioning as unknown as {
      commissioned: boolean;
      pairingCodes: PairingCodes;
      fabrics: Record<string, { fabricIndex: number; label: string }>;
    };
  // Matter's own factory reset: the last fabric removed, matter.js erases the node. The users
  // belonged to those fabrics: they and their PINs go too (audited `code_removed`, by matter).
  node.lifecycle.decommissioned.on(() => {
    if (erasing) return;
    try {
      users.clearUser(0xfffe);
    } catch (error) {
      log.warn('matter users not cleared', { error: (error as Error).message });
    }
    // matter.js erases the node once the last session closes, then starts it again.
    node.lifecycle.online.once(() => {
      set(firmwareState());
      restrictFiles(storageDir);
      announcePairing('last fabric removed');
    });
  });
  log.info('matter node started', {
    port: config.port,
    commissioned: commissioning().commissioned,
  });
  return {
    get pairing() {
      const { manualPairingCode, qrPairingCode } = commissioning().pairingCodes;
      return { manualPairingCode, qrPairingCode };
    },
    commissioned: () => commissioning().commissioned,
    fabrics: () =>
      Object.values(commissioning().fabrics ?? {}).map((fabric) => ({
        index: fabric.fabricIndex,
        label: fabric.label,
      })),
    async close() {
      offEvents();
      await Promise.all(pending);
      await node.close();
      // matter.js 0.17.9 takes a new hold on its mDNS service each time a node is erased (a
      // factory reset) and lets go of the last one only: close the service itself, or its
      // sockets keep the process alive after shutdown.
      await Environment.default.maybeGet(MdnsService)?.close();
      restrictFiles(storageDir);
    },
  };
}

/** Fabric keys live under DIR/matter: owner-only, whatever the umask was when matter.js wrote them. */
function restrictFiles(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      chmodSync(path, 0o700);
      restrictFiles(path);
    } else if (entry.isFile() && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
}
