import { watch } from 'node:fs';
import { join } from 'node:path';
import { createHal, createSimHal, type Hal, type SimHal } from '../../hal/index.ts';
import { driveInRealTime, RealScheduler, type Scheduler, VirtualScheduler } from '../../hal/scheduler.ts';
import { SimControlServer } from '../../hal/sim/control-server.ts';
import { loadSimRtc, saveSimRtc } from '../../hal/sim/rtc-file.ts';
import { parseFlags, parseIntFlag, requireFlag, UsageError } from '../cli.ts';
import { DEFAULT_CONFIG, loadConfig } from '../config.ts';
import { BAUD_RATES, DEFAULT_BAUD } from '../diag/baud.ts';
import type { TumblerError } from '../errors.ts';
import { checkDataDir, type Firmware, openStore, startFirmware } from '../firmware.ts';
import { LOG_LEVELS, type LogControl, stdoutSink } from '../log.ts';
// Type only (erased): matter.js itself loads only with --matter.
import type { MatterNode } from '../matter/start.ts';
import { createOfflineResolver } from '../offline-path.ts';
import { installProvisioning } from '../provisioning.ts';
import { firmwareControlExtension } from '../sim-control.ts';
import { deviceKeyPresent } from '../store/binding.ts';
import { assertStoreFilesIntact, onStoreFilesChanged } from '../store/db.ts';
import type { SyncLink } from '../sync/link.ts';
import { loadSyncFiles, startSync } from '../sync/start.ts';
import { startSystemdNotifier } from '../systemd-notify.ts';

export const RUN_HELP = `Usage: lockfw run --hal sim|linux --data DIR [options]

Runs the lock headless (boards, tests). Logs are JSON lines on stdout.

  --hal sim|linux          simulated board, or the Linux drivers (needs --board)
  --data DIR               data dir (lock.db, device.key, store.id); must hold a store unless --init
  --init                   first start: create the data dir and a store where none exists
  --replace-lost-store     start a new, empty store beside a device.key whose lock.db is lost
                           (audited; offline codes issued before must be issued again;
                           docs/reliability.md, "What survives the loss of each file")
  --board FILE             board config for --hal linux (docs/hardware.md)
  --config FILE            lock settings (JSON; see docs/configuration.md)
  --provisioning FILE      install the device secret from lockctl provision at first boot
  --control-socket PATH    sim only: control socket (default DIR/sim.sock)
  --mqtt URL               gateway broker, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883
  --mqtt-username NAME     broker user (the example ACL expects the device id)
  --mqtt-password-file F   file holding the broker password
  --mqtt-ca FILE           CA certificate for mqtts:// (also --mqtt-cert, --mqtt-key)
  --device-id ID           the lock's id on the broker (default: config, then provisioning)
  --timezone ZONE          IANA time zone, e.g. Europe/Berlin
  --auto-relock SECONDS    relock this long after unlocking (0: never)
  --log-level LEVEL        ${LOG_LEVELS.join('|')}
  --serial PATH            serve the diagnostics console on a serial device (docs/diagnostics.md)
  --baud N                 its baud rate (default ${DEFAULT_BAUD})
  --matter                 be a Matter Door Lock too (config \`matter\`; docs/matter.md); prints
                           the setup code and QR payload while no fabric holds the lock

With --hal linux, every output of the board is driven off first of all (as lockfw
outputs-off does). Under systemd with Type=notify ($NOTIFY_SOCKET), READY=1 is sent
once everything is up and WATCHDOG=1 every WatchdogSec/2 (docs/hardware.md).

SIGINT or SIGTERM shuts down cleanly: the motor is stopped (safe state) and the
database closed. Settings also come from LOCKFW_* environment variables.`;

export async function runCommand(argv: string[]): Promise<number> {
  const command = 'lockfw run';
  const { values, positionals } = parseFlags(command, argv, {
    hal: { type: 'string' },
    data: { type: 'string' },
    init: { type: 'boolean' },
    'replace-lost-store': { type: 'boolean' },
    board: { type: 'string' },
    config: { type: 'string' },
    provisioning: { type: 'string' },
    'control-socket': { type: 'string' },
    timezone: { type: 'string' },
    'auto-relock': { type: 'string' },
    'log-level': { type: 'string' },
    mqtt: { type: 'string' },
    'mqtt-username': { type: 'string' },
    'mqtt-password-file': { type: 'string' },
    'mqtt-ca': { type: 'string' },
    'mqtt-cert': { type: 'string' },
    'mqtt-key': { type: 'string' },
    'device-id': { type: 'string' },
    serial: { type: 'string' },
    matter: { type: 'boolean' },
    baud: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${RUN_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const halKind = requireFlag(command, values.hal, '--hal', 'sim|linux');
  if (halKind !== 'sim' && halKind !== 'linux')
    throw new UsageError(`${command}: --hal must be sim or linux, got ${JSON.stringify(halKind)}`);
  if (halKind === 'linux' && !values.board)
    throw new UsageError(`${command}: --hal linux needs --board FILE`);
  if (halKind !== 'sim' && values['control-socket'])
    throw new UsageError(`${command}: --control-socket is for --hal sim only`);
  const dataDir = requireFlag(command, values.data, '--data', 'DIR');
  if (values.baud !== undefined && !values.serial)
    throw new UsageError(`${command}: --baud needs --serial PATH`);
  const baud = values.baud === undefined ? DEFAULT_BAUD : Number(values.baud);
  if (!(BAUD_RATES as readonly number[]).includes(baud) || !/^\d+$/.test(values.baud ?? '0')) {
    throw new UsageError(
      `${command}: --baud must be one of ${BAUD_RATES.join(', ')}, got ${JSON.stringify(values.baud)}`,
    );
  }
  // A crash can leave the strike or motor on (a Pi kernel keeps a released line at its
  // last level): drive every output off before anything else that could fail.
  if (halKind === 'linux') {
    const { assertAllSafe, switchOutputsOff } = await import('../../hal/linux/index.ts');
    assertAllSafe(await switchOutputsOff(values.board!));
  }
  const overrides: Record<string, unknown> = {};
  if (values.timezone) overrides.timezone = values.timezone;
  const relock = parseIntFlag(command, values['auto-relock'], '--auto-relock', 0, 3600);
  if (relock !== undefined) overrides.autoRelockSeconds = relock;
  if (values['log-level']) overrides.logLevel = values['log-level'];
  if (values['device-id']) overrides.deviceId = values['device-id'];
  if (!values.mqtt && (values['mqtt-username'] || values['mqtt-password-file'] || values['mqtt-ca'])) {
    throw new UsageError(`${command}: --mqtt-* options need --mqtt URL`);
  }
  if (values.mqtt) {
    overrides.mqtt = {
      url: values.mqtt,
      ...(values['mqtt-username'] ? { username: values['mqtt-username'] } : {}),
      ...(values['mqtt-password-file'] ? { passwordFile: values['mqtt-password-file'] } : {}),
      ...(values['mqtt-ca'] ? { caFile: values['mqtt-ca'] } : {}),
      ...(values['mqtt-cert'] ? { certFile: values['mqtt-cert'] } : {}),
      ...(values['mqtt-key'] ? { keyFile: values['mqtt-key'] } : {}),
    };
  }
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    env: process.env,
    overrides,
  });
  // Start-up: everything is loaded and checked before anything starts (no timer, socket,
  // relay or broker connection); any failure is one line and a non-zero exit.
  const syncFiles = config.mqtt ? loadSyncFiles(config.mqtt) : undefined;
  checkDataDir(dataDir, values.init ?? false);
  // Looked at before --provisioning can write device.key: a key already here means a store lived here.
  const keyFoundAtStart = deviceKeyPresent(dataDir);
  const provisioned = values.provisioning ? installProvisioning(dataDir, values.provisioning) : undefined;
  // The provisioning file names the device unless the config or a flag does.
  const deviceId =
    config.deviceId === DEFAULT_CONFIG.deviceId && provisioned ? provisioned.deviceId : config.deviceId;
  const store = openStore(dataDir, {
    init: values.init ?? false,
    replaceLost: values['replace-lost-store'] ?? false,
    keyFoundAtStart,
  });
  const log: LogControl = { level: config.logLevel, sink: stdoutSink };
  if (store.replaced) {
    process.stdout.write(
      `${JSON.stringify({ t: new Date().toISOString(), level: 'warn', ns: 'lockfw', msg: 'new store replaces a lost one', lost_incarnation: store.replaced.replaces, offline_key_version: store.replaced.offlineKeyVersion })}\n`,
    );
  }

  // Undone in reverse order if start-up fails half-way, and at shutdown.
  const stops: Array<() => unknown> = [() => store.db.close()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  let firmware: Firmware;
  let link: SyncLink | undefined;
  let fatal: TumblerError | undefined;
  let wake = () => {};
  try {
    let scheduler: Scheduler;
    let hal: Hal;
    let simHal: SimHal | undefined;
    let virtual: VirtualScheduler | undefined;
    if (halKind === 'sim') {
      virtual = new VirtualScheduler();
      simHal = createSimHal(virtual, loadSimRtc(dataDir));
      scheduler = virtual;
      hal = simHal;
    } else {
      scheduler = new RealScheduler();
      hal = await createHal({ kind: 'linux', boardFile: values.board! }, scheduler);
    }
    stops.push(() => hal.close());
    firmware = await startFirmware({
      dataDir,
      hal,
      scheduler,
      config,
      log,
      offline: createOfflineResolver,
      store,
    });
    stops.push(() => firmware.close());
    // A WAL deleted or a database replaced under the lock: stop before a commit can vanish.
    const stopOnStoreChange = (error: TumblerError) => {
      fatal ??= error;
      wake();
    };
    stops.push(onStoreFilesChanged(store.db, stopOnStoreChange));
    const watcher = watch(dataDir, () => {
      try {
        assertStoreFilesIntact(store.db);
      } catch {}
    });
    watcher.on('error', () => {});
    stops.push(() => watcher.close());
    if (simHal && virtual) {
      const sim = simHal;
      const saveClock = () => saveSimRtc(dataDir, sim.rtc);
      const clockSaver = setInterval(saveClock, 10_000);
      stops.push(() => {
        clearInterval(clockSaver);
        saveClock();
      });
      stops.push(driveInRealTime(virtual));
      const control = new SimControlServer(
        sim,
        virtual,
        firmwareControlExtension(() => firmware),
        saveClock,
        (reason) => firmware.log.warn('control socket client dropped', { reason }),
      );
      const socketPath = values['control-socket'] ?? join(dataDir, 'sim.sock');
      await control.listen(socketPath);
      stops.push(() => control.close());
      firmware.manager.onEvent((event) => control.broadcast(eventForControl(event)));
      process.stdout.write(
        `${JSON.stringify({ t: new Date().toISOString(), level: 'info', ns: 'lockfw:sim', msg: 'control socket ready', socket: socketPath })}\n`,
      );
    }
    if (config.mqtt && syncFiles) {
      const keypad = simHal?.keypad;
      const started = startSync(
        firmware,
        config.mqtt,
        deviceId,
        syncFiles,
        keypad ? (keys) => keypad.press(keys) : undefined,
      );
      link = started;
      stops.push(() => started.stop());
    }
    let matter: MatterNode | undefined;
    if (values.matter) {
      // Loaded only when asked for: matter.js costs memory a lock without Matter never pays.
      const started = await (await import('../matter/start.ts')).startMatter(firmware, config.matter);
      matter = started;
      stops.push(() => started.close());
      const line = started.commissioned()
        ? { msg: 'matter node commissioned', fabrics: started.fabrics().length }
        : {
            msg: 'matter pairing',
            manual_code: started.pairing.manualPairingCode,
            qr_payload: started.pairing.qrPairingCode,
          };
      process.stdout.write(
        `${JSON.stringify({ t: new Date().toISOString(), level: 'info', ns: 'lockfw:matter', ...line })}\n`,
      );
    }
    const diagContext = {
      firmware,
      hal,
      scheduler,
      deviceId,
      logControl: log,
      ...(link ? { link } : {}),
      ...(matter ? { matter } : {}),
    };
    if (values.serial) {
      // Loaded only when asked for: serialport's native binding costs boot time and memory.
      const serialConsole = (await import('../diag/serial-transport.ts')).startSerialConsole({
        path: values.serial,
        baud,
        context: diagContext,
        log: firmware.log.child('diag'),
      });
      stops.push(() => serialConsole.close());
    }
    // Under systemd (Type=notify): started, then alive while the event loop runs.
    const systemd = await startSystemdNotifier(process.env, firmware.log.child('systemd'));
    if (systemd) {
      stops.push(() => systemd.close());
      systemd.notify('READY=1');
      if (systemd.watchdogIntervalMs !== undefined) {
        const pings = setInterval(() => systemd.notify('WATCHDOG=1'), systemd.watchdogIntervalMs);
        stops.push(() => clearInterval(pings));
      }
      stops.push(() => systemd.notify('STOPPING=1'));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  await new Promise<void>((resolve) => {
    wake = resolve;
    const stop = (signal: string) => {
      firmware.log.info('shutting down', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    if (fatal) resolve();
  });
  if (fatal) {
    // Commits made before the change are in the WAL this process still holds open:
    // checkpoint them into lock.db before stopping, so nothing acknowledged is lost.
    try {
      store.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {}
  }
  await stopAll();
  if (fatal) throw fatal;
  return 0;
}

function eventForControl(
  event: Parameters<Parameters<Firmware['manager']['onEvent']>[0]>[0],
): Record<string, unknown> {
  switch (event.type) {
    case 'decision':
      return { event: 'decision', ...event.record };
    case 'committed':
      return { event: 'committed', seq: event.record.seq };
    case 'lock':
      return { event: 'lock', state: event.state };
    case 'entry':
      return { event: 'entry', length: event.length };
    case 'audit':
      return {
        event: 'audit',
        seq: event.row.seq,
        at: event.row.at,
        type: event.row.type,
        data: event.row.data,
      };
    case 'mode':
      return { event: 'mode', mode: event.mode };
  }
}
