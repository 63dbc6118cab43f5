import { access, constants } from 'node:fs/promises';
import type { BoardConfig } from './board-config.ts';
import { lineUses } from './board-config.ts';
import { DeviceMissingError } from './errors.ts';

export interface DeviceRoots {
  /** Where gpiochipN and rtcN live; `/dev`. */
  devRoot: string;
  /** Where class/rtc lives; `/sys`. */
  sysfsRoot: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every device node the board file names that is not there, each with its field. */
export async function findMissingDevices(
  board: BoardConfig,
  roots: DeviceRoots,
): Promise<DeviceMissingError[]> {
  const missing: DeviceMissingError[] = [];
  const chips = new Map<string, string>();
  for (const use of lineUses(board)) if (!chips.has(use.chip)) chips.set(use.chip, use.field);
  for (const [chip, field] of chips) {
    const path = `${roots.devRoot}/${chip}`;
    const chipField = chip === board.gpio.chip ? 'board.gpio.chip' : field.replace(/\.[^.]+$/, '.chip');
    if (!(await exists(path)))
      missing.push(new DeviceMissingError(chipField, path, 'list the chips with gpiodetect'));
  }
  if (!(await exists(board.keypad.device))) {
    missing.push(
      new DeviceMissingError(
        'board.keypad.device',
        board.keypad.device,
        'plug in the keypad, then check ls -l /dev/input/by-id',
      ),
    );
  }
  const rtcDir = `${roots.sysfsRoot}/class/rtc/${board.rtc.device}`;
  if (!(await exists(`${rtcDir}/since_epoch`))) {
    missing.push(
      new DeviceMissingError(
        'board.rtc.device',
        rtcDir,
        'enable the RTC overlay, e.g. dtoverlay=i2c-rtc,ds3231 in config.txt',
      ),
    );
  }
  return missing;
}
