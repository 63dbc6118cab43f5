import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Rtc, RtcReading } from '../rtc.ts';
import { errorCode, errorMessage, type HalLog, silentLog } from './log.ts';

/** Writes the RTC: (whole seconds since the epoch, UTC; the /dev node to write). */
export type SetRtcFn = (epochSeconds: number, devicePath: string) => Promise<void>;

/**
 * `hwclock --set` through /dev/rtcN (RTC_SET_TIME needs CAP_SYS_TIME; the unit grants
 * it). util-linux 2.38 does not take `@seconds`, so the date goes as UTC text with
 * TZ=UTC; `--noadjfile --utc` keeps hwclock away from /etc/adjtime, which is
 * read-only under the service's ProtectSystem=strict.
 */
export function hwclockSetter(command = 'hwclock'): SetRtcFn {
  return (epochSeconds, devicePath) =>
    new Promise((resolve, reject) => {
      const date = new Date(epochSeconds * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '');
      const args = ['--set', '--noadjfile', '--utc', `--date=${date}`, `--rtc=${devicePath}`];
      execFile(
        command,
        args,
        { timeout: 10_000, env: { ...process.env, TZ: 'UTC' } },
        (error, _stdout, stderr) => {
          if (error) reject(new Error(`${command} --set failed: ${String(stderr).trim() || error.message}`));
          else resolve();
        },
      );
    });
}

export interface SysfsRtcOptions {
  /** `rtc0`: read from <sysfsRoot>/class/rtc/rtc0, written through <devRoot>/rtc0. */
  device: string;
  /** Readings before this (epoch ms) are a clock that lost power and restarted at its reset date. */
  validAfterMs: number;
  sysfsRoot?: string;
  devRoot?: string;
  setRtc?: SetRtcFn;
  /** Reads a sysfs attribute; tests inject the kernel's EINVAL. */
  readText?: (path: string) => Promise<string>;
  log?: HalLog;
}

/**
 * The battery-backed RTC through sysfs. Validity rule: a reading is valid when
 * `since_epoch` reads at all and is not before `validAfterMs`. rtc-ds1307 fails the
 * read with EINVAL while the oscillator-stop flag is set (battery lost) until the time
 * is set again (for the DS3231 only on newer kernels); a clock that lost power without
 * that check restarts at its reset date (2000-01-01 or 1970), which the floor catches.
 * Other read errors (I2C EIO) also read as invalid, and are logged.
 */
export class SysfsRtc implements Rtc {
  private readonly sinceEpochPath: string;
  private readonly devicePath: string;
  private readonly setRtc: SetRtcFn;
  private readonly readText: (path: string) => Promise<string>;
  private readonly log: HalLog;

  constructor(private readonly options: SysfsRtcOptions) {
    if (typeof options.device !== 'string' || !/^rtc\d+$/.test(options.device)) {
      throw new TypeError(`options.device must be an RTC name like rtc0, got ${String(options.device)}`);
    }
    if (!Number.isFinite(options.validAfterMs))
      throw new RangeError('options.validAfterMs must be a finite number');
    this.sinceEpochPath = `${options.sysfsRoot ?? '/sys'}/class/rtc/${options.device}/since_epoch`;
    this.devicePath = `${options.devRoot ?? '/dev'}/${options.device}`;
    this.setRtc = options.setRtc ?? hwclockSetter();
    this.readText = options.readText ?? ((path) => readFile(path, 'utf8'));
    this.log = options.log ?? silentLog;
  }

  async read(): Promise<RtcReading> {
    let text: string;
    try {
      text = await this.readText(this.sinceEpochPath);
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'EINVAL') {
        this.log('warn', 'rtc', 'rtc read failed', {
          path: this.sinceEpochPath,
          code: code ?? errorMessage(error),
        });
      }
      return { epochMs: 0, valid: false };
    }
    const seconds = Number(text.trim());
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(seconds)) {
      this.log('warn', 'rtc', 'rtc reading is not a number', { path: this.sinceEpochPath });
      return { epochMs: 0, valid: false };
    }
    const epochMs = seconds * 1000;
    return { epochMs, valid: epochMs >= this.options.validAfterMs };
  }

  async set(epochMs: number): Promise<void> {
    if (typeof epochMs !== 'number' || !Number.isFinite(epochMs) || epochMs < 0) {
      throw new RangeError(`epochMs must be a finite number >= 0, got ${epochMs}`);
    }
    await this.setRtc(Math.round(epochMs / 1000), this.devicePath);
  }

  async close(): Promise<void> {}
}
