import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GpioError } from '../../../hal/linux/errors.ts';
import type { GpioOutput, LineValue } from '../../../hal/linux/gpio-backend.ts';
import { switchOutputsOff } from '../../../hal/linux/index.ts';
import { assertAllSafe, driveOutputsSafe } from '../../../hal/linux/safe-outputs.ts';
import { OFF_ATTEMPTS, SwitchedOutput } from '../../../hal/linux/switched-output.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { tempDir } from '../fake-kernel.ts';
import { motorBoard, strikeBoard } from '../linux-boards.ts';

/** An output whose set() fails the first `failures` times, like a gpioset that hit EBUSY. */
function flakyOutput(failures: number): GpioOutput & { sets: LineValue[] } {
  let level: LineValue = 1;
  const sets: LineValue[] = [];
  return {
    sets,
    address: { chip: 'gpiochip0', line: 26 },
    value: () => level,
    set: async (value) => {
      sets.push(value);
      level = value; // what was asked for, as CliOutput reports it even when the holder failed
      if (sets.length <= failures) throw new GpioError('gpioset failed: Device or resource busy');
    },
    release: async () => {},
  };
}

describe('switching an output off', () => {
  it('tries a failed off() again, and it counts once it holds', async () => {
    const scheduler = new VirtualScheduler();
    const logs: string[] = [];
    const output = flakyOutput(2);
    const relay = new SwitchedOutput(
      output,
      false,
      (level, _module, msg) => logs.push(`${level} ${msg}`),
      'relay',
      { wait: (ms) => new Promise((resolve) => scheduler.after(ms, resolve)), now: () => scheduler.now() },
    );
    const off = relay.off();
    await scheduler.advance(1000);
    await expect(off).resolves.toBeUndefined();
    expect(output.sets).toEqual([0, 0, 0]);
    expect(logs).toEqual([
      'warn output could not be switched off; trying again',
      'warn output could not be switched off; trying again',
    ]);
  });

  it(`reports an off() that failed ${OFF_ATTEMPTS} times, and tries again at the next off()`, async () => {
    const scheduler = new VirtualScheduler();
    const logs: string[] = [];
    const output = flakyOutput(OFF_ATTEMPTS);
    const relay = new SwitchedOutput(
      output,
      false,
      (level, _module, msg) => logs.push(`${level} ${msg}`),
      'relay',
      { wait: (ms) => new Promise((resolve) => scheduler.after(ms, resolve)), now: () => scheduler.now() },
    );
    const off = relay.off().catch((error: unknown) => error);
    await scheduler.advance(1000);
    expect(await off).toBeInstanceOf(GpioError);
    expect(logs.at(-1)).toBe(`error output could not be switched off after ${OFF_ATTEMPTS} attempts`);
    // The line reads "off" as asked, but was never held there: the next off() must not skip it.
    await relay.off();
    expect(output.sets).toEqual([0, 0, 0, 0]);
  });
});

describe('driveOutputsSafe', () => {
  it('requests every output of a motor board at its off level and lets it go', async () => {
    const gpio = new FakeGpioBackend();
    const results = await driveOutputsSafe(gpio, motorBoard({ activeLow: true }), async () => {});
    expect(results.map((result) => result.field)).toEqual([
      'board.relay.unlockLine',
      'board.relay.lockLine',
      'board.indicator.led.red',
      'board.indicator.led.green',
      'board.indicator.led.blue',
      'board.indicator.buzzer.line',
    ]);
    expect(results.every((result) => result.error === undefined)).toBe(true);
    expect(gpio.trace()).toEqual([
      'request-output gpiochip0:20=1', // active-low relay: high is off
      'release gpiochip0:20',
      'request-output gpiochip0:21=1',
      'release gpiochip0:21',
      'request-output gpiochip0:22=0',
      'release gpiochip0:22',
      'request-output gpiochip0:23=0',
      'release gpiochip0:23',
      'request-output gpiochip0:27=0',
      'release gpiochip0:27',
      'request-output gpiochip0:24=0',
      'release gpiochip0:24',
    ]);
  });

  it('waits for a line still held by a dying process, and names one that stays busy', async () => {
    const gpio = new FakeGpioBackend();
    const stale = await gpio.requestOutput({ chip: 'gpiochip0', line: 26, initial: 1 });
    const stuck = await gpio.requestOutput({ chip: 'gpiochip0', line: 24, initial: 1 });
    let waits = 0;
    const results = await driveOutputsSafe(gpio, strikeBoard(), async () => {
      if (++waits === 1) await stale.release(); // the killed gpioset lets go after one pause
    });
    expect(results).toEqual([
      { field: 'board.relay.strikeLine', line: 'gpiochip0 line 26' },
      { field: 'board.indicator.led.red', line: 'gpiochip0 line 22' },
      { field: 'board.indicator.led.green', line: 'gpiochip0 line 23' },
      {
        field: 'board.indicator.buzzer.line',
        line: 'gpiochip0 line 24',
        error: 'gpiochip0:24: Device or resource busy',
      },
    ]);
    expect(gpio.trace()).toContain('request-output gpiochip0:26=0');
    expect(() => assertAllSafe(results)).toThrow(
      'outputs not driven off: board.indicator.buzzer.line (gpiochip0 line 24): gpiochip0:24: Device or resource busy',
    );
    await stuck.release();
  });
});

describe('switchOutputsOff (lockfw outputs-off)', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  function boardFile(chip: string): string {
    const dir = tempDir('outputs-off');
    dirs.push(dir);
    const file = join(dir.path, 'board.json');
    writeFileSync(
      file,
      JSON.stringify({
        gpio: { chip },
        relay: { mode: 'strike', strikeLine: 26, failMode: 'fail-secure' },
        keypad: { device: '/nonexistent/keypad' }, // never looked at: outputs-off touches GPIO only
        rtc: { device: 'rtc-ds1307' },
        door: { line: 17 },
      }),
    );
    return file;
  }

  it('finds the header by its label, wherever the kernel numbered it', async () => {
    // A Pi 5 on a kernel before 6.6.47: gpiochip0 is gpio-brcmstb, the header is gpiochip4.
    const gpio = new FakeGpioBackend(undefined, [
      { name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 },
      { name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 },
    ]);
    const results = await switchOutputsOff(boardFile('pinctrl-rp1'), { gpio, wait: async () => {} });
    expect(results).toEqual([{ field: 'board.relay.strikeLine', line: 'gpiochip4 line 26' }]);
    expect(gpio.trace()).toEqual(['request-output gpiochip4:26=0', 'release gpiochip4:26']);
  });

  it('refuses a label no chip has, with one line naming what is there, touching nothing', async () => {
    const gpio = new FakeGpioBackend(undefined, [
      { name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 },
    ]);
    await expect(switchOutputsOff(boardFile('pinctrl-rp1'), { gpio })).rejects.toThrow(
      'board.gpio.chip: a GPIO chip labelled "pinctrl-rp1" not found (gpiodetect lists gpiochip0 [gpio-brcmstb@107d508500])',
    );
    expect(gpio.ops).toEqual([]);
  });
});
