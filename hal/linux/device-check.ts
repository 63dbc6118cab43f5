import { access, constants } from 'node:fs/promises';
import type { BoardConfig } from './board-config.ts';
import { DeviceMissingError } from './errors.ts';
import { resolveRtc } from './resolve-devices.ts';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The devices besides GPIO: the keypad node, and the RTC the board names (resolved to
 * its rtcN). Each missing one is an error naming its field; all are collected.
 */
export async function findKeypadAndRtc(
  board: BoardConfig,
  sysfsRoot: string,
): Promise<{ missing: DeviceMissingError[]; rtcDevice: string | undefined }> {
  const missing: DeviceMissingError[] = [];
  if (!(await exists(board.keypad.device))) {
    missing.push(
      new DeviceMissingError(
        'board.keypad.device',
        board.keypad.device,
        'plug in the keypad, then check ls -l /dev/input/by-id',
      ),
    );
  }
  let rtcDevice: string | undefined;
  try {
    rtcDevice = await resolveRtc(board.rtc.device, sysfsRoot);
  } catch (error) {
    if (!(error instanceof DeviceMissingError)) throw error;
    missing.push(error);
  }
  return { missing, rtcDevice };
}
