import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHal } from '../../../hal/index.ts';
import type { Key } from '../../../hal/keypad.ts';
import { BoardConfigError, DeviceMissingError, DevicesMissingError } from '../../../hal/linux/errors.ts';
import { createLinuxHal, type LinuxHalDeps } from '../../../hal/linux/index.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { eventually } from '../contract.ts';
import { FakeBolt } from '../fake-bolt.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { FakeInputNode, fakeSysfsRtc, tempDir } from '../fake-kernel.ts';

const BOARDS = join(import.meta.dirname, '../../../hal/linux/boards');
const NOW_S = 1_767_225_600;

/** The parts of an example board file the tests change. */
interface BoardJson {
  relay: Record<string, unknown>;
  keypad: { device: string; grab?: boolean };
  indicator: { buzzer: Record<string, unknown> };
}

interface Machine {
  root: string;
  boardFile: string;
  keypad?: FakeInputNode;
  deps: LinuxHalDeps & { gpio: FakeGpioBackend };
  logs: string[];
  scheduler: VirtualScheduler;
}

describe('createLinuxHal', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A temp "machine": /dev and /sys trees, a FIFO keypad, and the board file pointed at them. */
  function machine(
    example: string,
    options: {
      chips?: boolean;
      keypad?: boolean;
      rtc?: boolean;
      edit?: (board: BoardJson) => void;
    } = {},
  ): Machine {
    const dir = tempDir('hal');
    const chips = options.chips === false ? [] : [{ name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 }];
    cleanups.push(() => dir.remove());
    const root = dir.path;
    mkdirSync(join(root, 'dev', 'input', 'by-id'), { recursive: true });
    if (options.rtc !== false) fakeSysfsRtc(root, 'rtc0', NOW_S);
    const board = JSON.parse(readFileSync(join(BOARDS, example), 'utf8')) as BoardJson;
    board.keypad.device = join(root, 'dev', 'input', 'by-id', 'usb-keypad-event-kbd');
    board.keypad.grab = false; // a FIFO is no input event device: EVIOCGRAB has its own test
    options.edit?.(board);
    let keypad: FakeInputNode | undefined;
    if (options.keypad !== false) {
      keypad = new FakeInputNode(board.keypad.device);
      cleanups.push(() => keypad?.dispose());
    }
    const boardFile = join(root, 'board.json');
    writeFileSync(boardFile, JSON.stringify(board));
    const scheduler = new VirtualScheduler();
    const logs: string[] = [];
    return {
      root,
      boardFile,
      keypad,
      scheduler,
      logs,
      deps: {
        gpio: new FakeGpioBackend(undefined, chips),
        devRoot: join(root, 'dev'),
        sysfsRoot: join(root, 'sys'),
        arch: 'arm64',
        setRtc: async () => {},
        log: (level, module, msg) => logs.push(`${level} ${module} ${msg}`),
      },
    };
  }

  it('opens the relay-HAT example with the relay first and in its safe state', async () => {
    const m = machine('pi-relay-hat.json');
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(hal.kind).toBe('linux');
    // Every output is held at its off level before the door, keypad or RTC is looked at.
    expect(m.deps.gpio.trace()).toEqual([
      'request-output gpiochip0:26=0',
      'request-output gpiochip0:22=0',
      'request-output gpiochip0:23=0',
      'request-output gpiochip0:24=0',
      'request-input gpiochip0:17 pull-up',
    ]);
    expect(hal.actuator.position()).toBe('locked');
    expect(hal.door.state()).toBe('closed');
    expect(await hal.rtc.read()).toEqual({ epochMs: NOW_S * 1000, valid: true });
    expect(m.logs).toEqual([]);
  });

  it('delivers keys from the keypad node and unlocks the strike', async () => {
    const m = machine('pi-relay-hat.json');
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    const keys: Key[] = [];
    hal.keypad.onKey((key) => keys.push(key));
    m.keypad!.press('2580#', 24);
    await eventually(
      () => expect(keys).toEqual(['2', '5', '8', '0', '#']),
      async () => {
        await m.scheduler.advance(20);
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    );
    const positions: string[] = [];
    hal.actuator.onPosition((position) => positions.push(position));
    hal.actuator.drive('unlocked');
    await m.scheduler.advance(9000);
    expect(positions).toEqual(['unlocked', 'locked']); // pulseMs 8000 in the example
  });

  it('leaves every output off and every line released on close()', async () => {
    const m = machine('pi-relay-hat.json');
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    hal.actuator.drive('unlocked');
    hal.indicator.setLed('green');
    hal.indicator.beep('alarm');
    await m.scheduler.advance(10);
    await hal.close();
    await hal.close();
    const trace = m.deps.gpio.trace();
    const after = trace.slice(trace.indexOf('set gpiochip0:24=1') + 1);
    // Devices close side by side, so only each line's own order is fixed: off, then released.
    expect([...after].sort()).toEqual([
      'release gpiochip0:17',
      'release gpiochip0:22',
      'release gpiochip0:23',
      'release gpiochip0:24',
      'release gpiochip0:26',
      'set gpiochip0:23=0',
      'set gpiochip0:24=0',
      'set gpiochip0:26=0',
    ]);
    for (const line of [23, 24, 26]) {
      expect(after.indexOf(`set gpiochip0:${line}=0`)).toBeLessThan(
        after.indexOf(`release gpiochip0:${line}`),
      );
    }
    for (const line of [26, 22, 23, 24, 17]) expect(m.deps.gpio.isHeld('gpiochip0', line)).toBe(false);
  });

  it('opens the motor example and runs the bolt to its end-stop', async () => {
    const m = machine('pi-motor-lock.json');
    new FakeBolt(m.deps.gpio, m.scheduler, {
      chip: 'gpiochip0',
      unlockLine: 20,
      lockLine: 21,
      activeLow: false,
      lockedStop: { line: 5, activeLow: true },
      unlockedStop: { line: 6, activeLow: true },
      travelMs: 300,
    });
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(m.deps.gpio.trace().slice(0, 4)).toEqual([
      'request-output gpiochip0:20=0',
      'request-output gpiochip0:21=0',
      'request-input gpiochip0:5 pull-up',
      'request-input gpiochip0:6 pull-up',
    ]);
    const positions: string[] = [];
    hal.actuator.onPosition((position) => positions.push(position));
    hal.actuator.drive('unlocked');
    await m.scheduler.advance(400);
    expect(positions).toEqual(['unlocked']);
  });

  it('refuses a board whose GPIO chip is not there, before touching a line', async () => {
    const m = machine('pi-relay-hat.json', { chips: false, keypad: false, rtc: false });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceMissingError);
    expect((error as Error).message).toBe(
      'board.gpio.chip: a GPIO chip labelled "pinctrl-bcm2711" not found (gpiodetect lists no GPIO chip)',
    );
    expect(m.deps.gpio.ops).toEqual([]);
  });

  it('drives every output off, then names every missing device with its field and path, and lets go', async () => {
    const m = machine('pi-relay-hat.json', { keypad: false, rtc: false });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevicesMissingError);
    expect((error as DevicesMissingError).code).toBe('DEVICE_MISSING');
    expect((error as Error).message.split('; ')).toEqual([
      `board.keypad.device: ${m.root}/dev/input/by-id/usb-keypad-event-kbd not found (plug in the keypad, then check ls -l /dev/input/by-id)`,
      `board.rtc.device: an RTC named "rtc-ds1307" in ${m.root}/sys/class/rtc not found (no RTC is registered: enable the RTC overlay, e.g. dtoverlay=i2c-rtc,ds3231 in config.txt)`,
    ]);
    const trace = m.deps.gpio.trace();
    expect(trace.slice(0, 4)).toEqual([
      'request-output gpiochip0:26=0',
      'request-output gpiochip0:22=0',
      'request-output gpiochip0:23=0',
      'request-output gpiochip0:24=0',
    ]);
    expect(trace.filter((op) => op.startsWith('set'))).toEqual([]); // never switched on
    for (const line of [26, 22, 23, 24, 17]) expect(m.deps.gpio.isHeld('gpiochip0', line)).toBe(false);
  });

  it('finds the header chip by label on a Pi 5 whose gpiochip0 is another chip', async () => {
    const m = machine('pi-relay-hat.json', {
      edit: (board) => {
        (board as unknown as { gpio: { chip: string } }).gpio.chip = 'pinctrl-rp1';
      },
    });
    m.deps.gpio.chips.splice(
      0,
      1,
      { name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 },
      { name: 'gpiochip4', label: 'pinctrl-rp1', lines: 54 },
    );
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(hal.board.gpio.chip).toBe('gpiochip4');
    expect(m.deps.gpio.trace()[0]).toBe('request-output gpiochip4:26=0');
    expect(m.deps.gpio.trace().some((op) => op.includes('gpiochip0'))).toBe(false);
  });

  it('finds the DS3231 by driver name when rtc0 is the Pi 5 own RTC, and refuses a board without one', async () => {
    const m = machine('pi-relay-hat.json', { rtc: false });
    const sinceEpoch = fakeSysfsRtc(m.root, 'rtc1', NOW_S, 'rtc-ds1307 1-0068');
    fakeSysfsRtc(m.root, 'rtc0', 946_684_800, 'rpi-rtc soc:rpi_rtc');
    let setOn = '';
    m.deps.setRtc = async (_seconds, devicePath) => {
      setOn = devicePath;
    };
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    expect(await hal.rtc.read()).toEqual({ epochMs: NOW_S * 1000, valid: true });
    await hal.rtc.set(NOW_S * 1000);
    expect(setOn).toBe(join(m.root, 'dev', 'rtc1'));
    await hal.close();

    rmSync(dirname(sinceEpoch), { recursive: true });
    const error = await createLinuxHal(m.boardFile, m.scheduler, {
      ...m.deps,
      gpio: new FakeGpioBackend(),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `board.rtc.device: an RTC named "rtc-ds1307" in ${m.root}/sys/class/rtc not found (found rtc0 [rpi-rtc soc:rpi_rtc]: enable the RTC overlay, e.g. dtoverlay=i2c-rtc,ds3231 in config.txt)`,
    );
  });

  it('throws a single DeviceMissingError when one device is missing', async () => {
    const m = machine('pi-motor-lock.json', { keypad: false });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceMissingError);
    expect(error).toMatchObject({ field: 'board.keypad.device', code: 'DEVICE_MISSING' });
  });

  it('names the chip field of a line on a second chip', async () => {
    const m = machine('pi-relay-hat.json', {
      edit: (board) => {
        board.indicator.buzzer.chip = 'gpiochip1';
      },
    });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'board.indicator.buzzer.chip: /dev/gpiochip1 not found (gpiodetect lists gpiochip0 [pinctrl-bcm2711])',
    );
  });

  it('names the bad field of the board file', async () => {
    const m = machine('pi-relay-hat.json', {
      edit: (board) => {
        board.relay.strikeLine = 'GPIO26';
      },
    });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoardConfigError);
    expect((error as Error).message).toBe(
      `board file ${m.boardFile}: board.relay.strikeLine: expected an integer 0..511`,
    );
  });

  it('warns about an output that the Pi switches on during boot', async () => {
    const m = machine('pi-relay-hat.json', {
      edit: (board) => {
        board.relay.activeLow = true;
      },
    });
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(m.logs).toEqual([
      'warn board board.relay.strikeLine: GPIO26 is pulled down at power-on, which is the active-low ON level; it will switch on during boot (see docs/hardware.md)',
    ]);
  });

  it('releases what it had opened when a later device fails', async () => {
    const m = machine('pi-relay-hat.json');
    await m.deps.gpio.requestOutput({ chip: 'gpiochip0', line: 24, initial: 0 }); // someone else holds the buzzer line
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect((error as Error).message).toBe('gpiochip0:24: Device or resource busy');
    for (const line of [26, 17, 22, 23]) expect(m.deps.gpio.isHeld('gpiochip0', line)).toBe(false);
  });

  it('opens the optional inputs from the board file, each on its own line', async () => {
    const m = machine('pi-relay-hat.json', {
      edit: (board) => {
        (board as unknown as { inputs: unknown }).inputs = {
          exitButton: { line: 16, activeLow: true, bias: 'pull-up' },
          powerFail: { line: 12, activeLow: false, bias: 'pull-down', debounceMs: 200 },
        };
      },
    });
    m.deps.gpio.setInput('gpiochip0', 16, 1); // not pressed
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(Object.keys(hal.inputs)).toEqual(['exitButton', 'powerFail']);
    expect(m.deps.gpio.trace()).toContain('request-input gpiochip0:16 pull-up');
    expect(m.deps.gpio.trace()).toContain('request-input gpiochip0:12 pull-down');
    const presses: boolean[] = [];
    hal.inputs.exitButton!.onChange((pressed) => presses.push(pressed));
    m.deps.gpio.setInput('gpiochip0', 16, 0);
    await m.scheduler.advance(60);
    expect(presses).toEqual([true]);
    await hal.close();
    expect(m.deps.gpio.isHeld('gpiochip0', 16)).toBe(false);
  });

  it('takes the keypad exclusively (EVIOCGRAB) before reading a key, and on every reconnect', async () => {
    const grabbed: string[] = [];
    const m = machine('pi-relay-hat.json', { edit: (board) => delete board.keypad.grab });
    m.deps.grabInputDevice = () => grabbed.push('grab');
    const hal = await createLinuxHal(m.boardFile, m.scheduler, m.deps);
    cleanups.push(() => hal.close());
    expect(grabbed).toEqual(['grab']);
    await hal.close();
  });

  it('refuses a keypad it cannot take exclusively, with every output off (the real EVIOCGRAB on a FIFO)', async () => {
    const m = machine('pi-relay-hat.json', { edit: (board) => delete board.keypad.grab });
    const error = await createLinuxHal(m.boardFile, m.scheduler, m.deps).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('KEYPAD_NOT_EXCLUSIVE');
    expect((error as Error).message).toMatch(
      /^board\.keypad\.grab: .*usb-keypad-event-kbd could not be taken exclusively \(EVIOCGRAB: Inappropriate ioctl for device\)/,
    );
    for (const line of [26, 22, 23, 24]) expect(m.deps.gpio.isHeld('gpiochip0', line)).toBe(false);
    expect(m.deps.gpio.trace()).toContain('request-output gpiochip0:26=0');
  });

  it('is what createHal picks for kind "linux"', async () => {
    const error = await createHal(
      { kind: 'linux', boardFile: '/nonexistent/board.json' },
      new VirtualScheduler(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoardConfigError);
    expect((error as Error).message).toBe('board file /nonexistent/board.json: not found');
  });

  it('checks its arguments', async () => {
    await expect(createLinuxHal('', new VirtualScheduler())).rejects.toThrow(TypeError);
    await expect(createLinuxHal('/etc/lockfw/board.json', undefined as never)).rejects.toThrow(/scheduler/);
  });
});
