import type { Hal } from '../index.ts';
import type { Scheduler } from '../scheduler.ts';
import { type BoardConfig, loadBoardConfig } from './board-config.ts';
import { outputsOnAtBoot } from './boot-pulls.ts';
import { findMissingDevices } from './device-check.ts';
import { DevicesMissingError } from './errors.ts';
import { EvdevKeypad, type OpenInputDevice } from './evdev-keypad.ts';
import type { GpioBackend } from './gpio-backend.ts';
import { createGpiodCliBackend } from './gpiod-cli.ts';
import { inputEventSizeFor } from './input-event.ts';
import { buildKeymap } from './keymap.ts';
import { type HalLog, jsonLog } from './log.ts';
import { openActuator, openDoor, openIndicator } from './open-devices.ts';
import { hwclockSetter, type SetRtcFn, SysfsRtc } from './sysfs-rtc.ts';

export type { BoardConfig } from './board-config.ts';
export { BoardConfigError, DeviceMissingError, DevicesMissingError, GpioError } from './errors.ts';
export type { GpioBackend, GpioInput, GpioOutput } from './gpio-backend.ts';

/** Everything the Linux HAL touches outside the process, injectable for tests. */
export interface LinuxHalDeps {
  /** GPIO lines; the gpiod command-line tools by default. */
  gpio?: GpioBackend;
  /** `/dev`: where gpiochipN and rtcN are looked for. */
  devRoot?: string;
  /** `/sys`: where class/rtc/rtcN/since_epoch is read. */
  sysfsRoot?: string;
  openInputDevice?: OpenInputDevice;
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
 * missing device with its field and path, before any line is touched.
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
  board: BoardConfig,
  scheduler: Scheduler,
  deps: LinuxHalDeps = {},
): Promise<LinuxHal> {
  const log = deps.log ?? jsonLog;
  const devRoot = deps.devRoot ?? '/dev';
  const sysfsRoot = deps.sysfsRoot ?? '/sys';
  const missing = await findMissingDevices(board, { devRoot, sysfsRoot });
  if (missing.length === 1) throw missing[0];
  if (missing.length > 1) throw new DevicesMissingError(missing);
  for (const warning of outputsOnAtBoot(board)) log('warn', 'board', warning);

  const gpio =
    deps.gpio ??
    (await createGpiodCliBackend({ toolsDir: board.gpio.toolsDir, settleMs: board.gpio.settleMs, log }));
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const actuator = await openActuator(gpio, board, scheduler, log);
    opened.push(actuator);
    const door = await openDoor(gpio, board, scheduler);
    opened.push(door);
    const indicator = await openIndicator(gpio, board, scheduler, log);
    opened.push(indicator);
    const keypad = await EvdevKeypad.open(
      {
        path: board.keypad.device,
        keymap: buildKeymap(board.keypad.keymap),
        eventSize: board.keypad.eventSize === 'auto' ? inputEventSizeFor(deps.arch) : board.keypad.eventSize,
        pollMs: board.keypad.pollMs,
        reconnectMs: board.keypad.reconnectMs,
        open: deps.openInputDevice,
        log,
      },
      scheduler,
    );
    opened.push(keypad);
    const rtc = new SysfsRtc({
      device: board.rtc.device,
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
      close() {
        closing ??= (async () => {
          actuator.stop();
          await Promise.allSettled([
            actuator.close(),
            door.close(),
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
    await Promise.allSettled(opened.map((device) => device.close()));
    await gpio.close();
    throw error;
  }
}
