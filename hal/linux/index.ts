import type { Hal } from '../index.ts';
import type { Scheduler } from '../scheduler.ts';
import { type BoardConfig, loadBoardConfig } from './board-config.ts';
import { outputsOnAtBoot } from './boot-pulls.ts';
import { findKeypadAndRtc } from './device-check.ts';
import { DeviceMissingError, DevicesMissingError, KeypadGrabError } from './errors.ts';
import { EvdevKeypad, type GrabInputDevice, type InputDevice, type OpenInputDevice } from './evdev-keypad.ts';
import type { GpioBackend } from './gpio-backend.ts';
import { createGpiodCliBackend } from './gpiod-cli.ts';
import { inputEventSizeFor } from './input-event.ts';
import { buildKeymap } from './keymap.ts';
import { errorCode, errorMessage, type HalLog, jsonLog } from './log.ts';
import { openActuator, openDoor, openIndicator, openInputs, openWiegand } from './open-devices.ts';
import { resolveBoardChips } from './resolve-devices.ts';
import { driveOutputsSafe, type SafeOutputResult } from './safe-outputs.ts';
import type { WaitFn } from './switched-output.ts';
import { hwclockSetter, type SetRtcFn, SysfsRtc } from './sysfs-rtc.ts';
import { UapiBackend } from './uapi-backend.ts';
import { loadGpioAddon } from './uapi-native.ts';

export type { BoardConfig } from './board-config.ts';
export {
  BoardConfigError,
  DeviceMissingError,
  DevicesMissingError,
  GpioError,
  KeypadGrabError,
} from './errors.ts';
export type { ChipInfo, GpioBackend, GpioInput, GpioOutput } from './gpio-backend.ts';
export { assertAllSafe, type SafeOutputResult } from './safe-outputs.ts';

/** Everything the Linux HAL touches outside the process, injectable for tests. */
export interface LinuxHalDeps {
  /** GPIO lines; the gpiod command-line tools by default. */
  gpio?: GpioBackend;
  /** `/dev`: where gpiochipN and rtcN are looked for. */
  devRoot?: string;
  /** `/sys`: where class/rtc/rtcN/since_epoch is read. */
  sysfsRoot?: string;
  openInputDevice?: OpenInputDevice;
  /** EVIOCGRAB through the native addon by default (when `keypad.grab` is on). */
  grabInputDevice?: GrabInputDevice;
  setRtc?: SetRtcFn;
  /** Architecture deciding the input_event size when the board says "auto". */
  arch?: string;
  log?: HalLog;
}

export interface LinuxHal extends Hal {
  readonly kind: 'linux';
  readonly board: BoardConfig;
}

/**
 * Opens the board described by `boardFile`. Fails with a `BoardConfigError` naming
 * each bad field, or a `DeviceMissingError` / `DevicesMissingError` naming each
 * missing device with its field and path. A chip label no chip has is refused before
 * any line is touched; the outputs are requested (off) before the keypad and RTC are
 * looked for, so a start that fails on those leaves every output off.
 */
export async function createLinuxHal(
  boardFile: string,
  scheduler: Scheduler,
  deps: LinuxHalDeps = {},
): Promise<LinuxHal> {
  if (typeof boardFile !== 'string' || boardFile === '')
    throw new TypeError('boardFile must be a non-empty string');
  if (!scheduler || typeof scheduler.after !== 'function')
    throw new TypeError('scheduler must be a Scheduler');
  return openLinuxHal(await loadBoardConfig(boardFile), scheduler, deps);
}

export async function openLinuxHal(
  configured: BoardConfig,
  scheduler: Scheduler,
  deps: LinuxHalDeps = {},
): Promise<LinuxHal> {
  const log = deps.log ?? jsonLog;
  const devRoot = deps.devRoot ?? '/dev';
  const sysfsRoot = deps.sysfsRoot ?? '/sys';
  const gpio = deps.gpio ?? (await gpiodBackend(configured, log, devRoot));
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const { board, labels } = resolveBoardChips(configured, await gpio.listChips());
    for (const warning of outputsOnAtBoot(board, labels)) log('warn', 'board', warning);
    // Outputs first, requested at their off level, before anything that can fail by
    // itself (an unplugged keypad, a missing RTC): a start that fails leaves them off.
    const actuator = await openActuator(gpio, board, scheduler, log);
    opened.push(actuator);
    const indicator = await openIndicator(gpio, board, scheduler, log);
    opened.push(indicator);
    const door = await openDoor(gpio, board, scheduler);
    opened.push(door);
    const inputs = await openInputs(gpio, board, scheduler, opened);
    const wiegand = await openWiegand(gpio, board, scheduler);
    if (wiegand) opened.push(wiegand);
    const { missing, rtcDevice } = await findKeypadAndRtc(board, sysfsRoot);
    if (missing.length === 1) throw missing[0];
    if (missing.length > 1) throw new DevicesMissingError(missing);
    const keypad = await EvdevKeypad.open(
      {
        path: board.keypad.device,
        keymap: buildKeymap(board.keypad.keymap),
        eventSize: board.keypad.eventSize === 'auto' ? inputEventSizeFor(deps.arch) : board.keypad.eventSize,
        pollMs: board.keypad.pollMs,
        reconnectMs: board.keypad.reconnectMs,
        open: deps.openInputDevice,
        grab: board.keypad.grab ? (deps.grabInputDevice ?? evdevGrab(board.keypad.device)) : undefined,
        log,
      },
      scheduler,
    );
    opened.push(keypad);
    const rtc = new SysfsRtc({
      device: rtcDevice!,
      validAfterMs: Date.parse(board.rtc.validAfter),
      sysfsRoot,
      devRoot,
      setRtc: deps.setRtc ?? hwclockSetter(board.rtc.hwclock),
      log,
    });
    let closing: Promise<void> | undefined;
    return {
      kind: 'linux',
      board,
      keypad,
      actuator,
      rtc,
      indicator,
      door,
      inputs,
      ...(wiegand ? { wiegand } : {}),
      close() {
        closing ??= (async () => {
          actuator.stop();
          await Promise.allSettled([
            actuator.close(),
            door.close(),
            ...Object.values(inputs).map((input) => input.close()),
            wiegand?.close(),
            indicator.close(),
            keypad.close(),
            rtc.close(),
          ]);
          await gpio.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    // Devices close by switching their outputs off first, then releasing them.
    await Promise.allSettled(opened.map((device) => device.close()));
    await gpio.close();
    throw error;
  }
}

/** EVIOCGRAB on the keypad's fd; without the addon, `keypad.grab` cannot be honoured and the start is refused. */
function evdevGrab(path: string): GrabInputDevice {
  const { addon, problem } = loadGpioAddon();
  if (!addon)
    throw new DeviceMissingError('board.keypad.grab', 'EVIOCGRAB', `${problem}, or set "grab": false`);
  return (device: InputDevice) => {
    const fd = (device as { fd?: unknown }).fd;
    if (typeof fd !== 'number') throw new KeypadGrabError(path, 'no file descriptor');
    try {
      addon.grab(fd, true);
    } catch (error) {
      throw Object.assign(new KeypadGrabError(path, errorMessage(error)), {
        errno: errorCode(error),
      });
    }
  };
}

/**
 * The backend the board file names: the in-process uAPI (default), or the gpiod tools
 * when `gpio.backend` says "gpiod-tools". A missing addon is an error naming the field,
 * never a silent switch to the tools.
 */
export async function gpiodBackend(board: BoardConfig, log: HalLog, devRoot = '/dev'): Promise<GpioBackend> {
  if (board.gpio.backend === 'gpiod-tools')
    return createGpiodCliBackend({ toolsDir: board.gpio.toolsDir, settleMs: board.gpio.settleMs, log });
  const { addon, problem } = loadGpioAddon();
  if (!addon)
    throw new DeviceMissingError(
      'board.gpio.backend',
      'the "uapi" backend',
      `${problem}, or set "backend": "gpiod-tools"`,
    );
  return new UapiBackend(addon, { devRoot, log });
}

/**
 * `lockfw outputs-off`, and the first thing `lockfw run --hal linux` does: reads the
 * board file, finds its chips by label, and drives every output to its off level,
 * touching nothing else (no keypad, RTC or store), so it works whatever else is broken.
 */
export async function switchOutputsOff(
  boardFile: string,
  deps: { gpio?: GpioBackend; log?: HalLog; wait?: WaitFn } = {},
): Promise<SafeOutputResult[]> {
  const configured = await loadBoardConfig(boardFile);
  const log = deps.log ?? jsonLog;
  const gpio = deps.gpio ?? (await gpiodBackend(configured, log));
  try {
    const { board } = resolveBoardChips(configured, await gpio.listChips());
    const wait = deps.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    return await driveOutputsSafe(gpio, board, wait);
  } finally {
    await gpio.close();
  }
}
