import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBoardConfig, parseBoardConfig } from '../../../hal/linux/board-config.ts';
import { bootPull, outputsOnAtBoot } from '../../../hal/linux/boot-pulls.ts';
import { BoardConfigError } from '../../../hal/linux/errors.ts';
import { tempDir } from '../fake-kernel.ts';
import { strikeBoard } from '../linux-boards.ts';

const BOARDS = join(import.meta.dirname, '../../../hal/linux/boards');

function problemsOf(value: unknown): string[] {
  try {
    parseBoardConfig(value);
  } catch (error) {
    expect(error).toBeInstanceOf(BoardConfigError);
    expect((error as BoardConfigError).code).toBe('BOARD_CONFIG_INVALID');
    return [...(error as BoardConfigError).problems];
  }
  throw new Error('the board parsed');
}

const minimal = {
  gpio: { chip: 'gpiochip0' },
  relay: { mode: 'strike', strikeLine: 26, failMode: 'fail-secure' },
  keypad: { device: '/dev/input/event0' },
  rtc: { device: 'rtc0' },
  door: { line: 17 },
};

describe('board config', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  it('loads both shipped example boards', async () => {
    const hat = await loadBoardConfig(join(BOARDS, 'pi-relay-hat.json'));
    expect(hat.relay).toMatchObject({
      mode: 'strike',
      strikeLine: 26,
      failMode: 'fail-secure',
      pulseMs: 8000,
    });
    const motor = await loadBoardConfig(join(BOARDS, 'pi-motor-lock.json'));
    expect(motor.relay).toMatchObject({ mode: 'motor', unlockLine: 20, lockLine: 21 });
    expect(motor.keypad.keymap?.KEY_KPDOT).toBe('#');
  });

  it('fills in defaults', () => {
    const board = parseBoardConfig(minimal);
    expect(board.gpio).toEqual({ chip: 'gpiochip0', backend: 'uapi' });
    expect(board.keypad).toMatchObject({ eventSize: 'auto', pollMs: 20, reconnectMs: 1000, grab: true });
    expect(board.rtc).toMatchObject({ validAfter: '2024-01-01T00:00:00Z', hwclock: 'hwclock' });
    expect(board.door).toMatchObject({ activeLow: false, bias: 'as-is', debounceMs: 50 });
    expect(board.indicator).toEqual({});
  });

  it('names the field and the accepted form for a bad line offset', () => {
    const board = {
      ...minimal,
      relay: {
        mode: 'motor',
        unlockLine: 600,
        lockLine: 2.5,
        lockedStop: { line: 5 },
        unlockedStop: { line: -1 },
      },
    };
    expect(problemsOf(board)).toEqual([
      'board.relay.unlockLine: expected an integer 0..511',
      'board.relay.lockLine: expected an integer 0..511',
      'board.relay.unlockedStop.line: expected an integer 0..511',
    ]);
  });

  it('says which sections and fields are missing', () => {
    expect(problemsOf({ gpio: { chip: 'gpiochip0' } })).toEqual([
      'board.relay: expected mode "strike" or "motor"',
      'board.keypad: required',
      'board.rtc: required',
      'board.door: required',
    ]);
    expect(problemsOf({ ...minimal, door: {} })).toEqual(['board.door.line: required']);
  });

  it('rejects unknown fields, bad names and bad keymaps by field', () => {
    const board = {
      ...minimal,
      gpio: { chip: 'gpio chip 0', speed: 3 },
      keypad: { device: 'event0', eventSize: 32, keymap: { KEY_FOO: '1', KEY_KP1: 'A', '900': '2' } },
      rtc: { device: '/dev/rtc0', validAfter: 'yesterday' },
    };
    expect(problemsOf(board)).toEqual([
      'board.gpio.chip: expected a chip label like "pinctrl-bcm2711" or a name like "gpiochip0"',
      'board.gpio.speed: unknown field',
      'board.keypad.device: expected an absolute path',
      'board.keypad.eventSize: expected "auto", 16 or 24',
      // Integer-like keys come first in a JS object.
      'board.keypad.keymap.900: unknown key name (use a KEY_* name or a decimal code 1..767)',
      'board.keypad.keymap.KEY_FOO: unknown key name (use a KEY_* name or a decimal code 1..767)',
      'board.keypad.keymap.KEY_KP1: expected one of "0"-"9", "*", "#"',
      'board.rtc.device: expected an RTC driver name like "rtc-ds1307" or a name like "rtc0"',
      'board.rtc.validAfter: expected an ISO 8601 date like "2024-01-01T00:00:00Z"',
    ]);
  });

  it('accepts numeric key codes in the keymap', () => {
    const board = parseBoardConfig({
      ...minimal,
      keypad: { device: '/dev/input/event0', keymap: { '79': '1' } },
    });
    expect(board.keypad.keymap).toEqual({ '79': '1' });
  });

  it('refuses one line used twice, naming both fields', () => {
    expect(problemsOf({ ...minimal, indicator: { buzzer: { line: 26 } } })).toEqual([
      'board.indicator.buzzer.line: line 26 on gpiochip0 is already used by board.relay.strikeLine',
    ]);
    // The same offset on another chip is another line.
    expect(() =>
      parseBoardConfig({ ...minimal, indicator: { buzzer: { chip: 'gpiochip1', line: 26 } } }),
    ).not.toThrow();
  });

  it('refuses an input on a line already used', () => {
    expect(problemsOf({ ...minimal, inputs: { tamper: { line: 26 } } })).toEqual([
      'board.inputs.tamper.line: line 26 on gpiochip0 is already used by board.relay.strikeLine',
    ]);
    expect(problemsOf({ ...minimal, inputs: { doorbell: { line: 5 } } })).toEqual([
      'board.inputs.doorbell: unknown field',
    ]);
  });

  it('refuses a pulse on a fail-safe maglock', () => {
    expect(
      problemsOf({ ...minimal, relay: { ...minimal.relay, failMode: 'fail-safe', pulseMs: 500 } }),
    ).toEqual(['board.relay.pulseMs: only for failMode "fail-secure"']);
  });

  it('names the file when it is missing or not JSON', async () => {
    const dir = tempDir('board');
    dirs.push(dir);
    const missing = join(dir.path, 'nope.json');
    await expect(loadBoardConfig(missing)).rejects.toThrow(`board file ${missing}: not found`);
    const broken = join(dir.path, 'broken.json');
    writeFileSync(broken, '{ "gpio": ');
    await expect(loadBoardConfig(broken)).rejects.toThrow(/^board file .*broken\.json: invalid JSON/);
    await expect(loadBoardConfig('')).rejects.toThrow(TypeError);
  });
});

describe('power-on pulls', () => {
  it('follows the BCM2835 table: GPIO0-8 up, GPIO9-27 down', () => {
    expect([0, 4, 8].map(bootPull)).toEqual(['up', 'up', 'up']);
    expect([9, 17, 26, 27].map(bootPull)).toEqual(['down', 'down', 'down', 'down']);
    expect(bootPull(28)).toBeUndefined();
  });

  it('warns about an output that boot would switch on, on any chip with a BCM2835-family label', () => {
    const pi4 = new Map([['gpiochip0', 'pinctrl-bcm2711']]);
    expect(outputsOnAtBoot(strikeBoard(), pi4)).toEqual([]);
    const warning =
      'board.relay.strikeLine: GPIO26 is pulled down at power-on, which is the active-low ON level; it will switch on during boot (see docs/hardware.md)';
    expect(outputsOnAtBoot(strikeBoard({ activeLow: true }), pi4)).toEqual([warning]);
    // The header bank is found by its label, not by being gpiochip0.
    const board = {
      ...strikeBoard({ activeLow: true }),
      gpio: { chip: 'gpiochip2', backend: 'uapi' as const },
    };
    expect(outputsOnAtBoot(board, new Map([['gpiochip2', 'pinctrl-bcm2835']]))).toEqual([warning]);
    // The table is the BCM2835's: a Pi 5's RP1 or an expander is not checked against it.
    expect(
      outputsOnAtBoot(strikeBoard({ activeLow: true }), new Map([['gpiochip0', 'pinctrl-rp1']])),
    ).toEqual([]);
  });
});
