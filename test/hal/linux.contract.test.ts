import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBoardConfig } from '../../hal/linux/board-config.ts';
import { EvdevKeypad } from '../../hal/linux/evdev-keypad.ts';
import { GpioWiegand } from '../../hal/linux/gpio-wiegand.ts';
import type { InputEventSize } from '../../hal/linux/input-event.ts';
import { buildKeymap } from '../../hal/linux/keymap.ts';
import { silentLog } from '../../hal/linux/log.ts';
import { openActuator, openDoor, openIndicator, openInputs } from '../../hal/linux/open-devices.ts';
import { SysfsRtc } from '../../hal/linux/sysfs-rtc.ts';
import { VirtualScheduler } from '../../hal/scheduler.ts';
import {
  actuatorContract,
  doorContract,
  indicatorContract,
  keypadContract,
  rtcContract,
  switchContract,
  wiegandContract,
} from './contract.ts';
import { FakeBolt } from './fake-bolt.ts';
import { FakeGpioBackend } from './fake-gpio.ts';
import { FakeInputNode, fakeSysfsRtc, tempDir } from './fake-kernel.ts';
import { motorBoard, motorBoardJson, strikeBoard } from './linux-boards.ts';

const START = Date.UTC(2026, 0, 15, 12, 0, 0);
const realPause = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

for (const eventSize of [24, 16] as InputEventSize[]) {
  keypadContract(`EvdevKeypad (${eventSize}-byte input_event, FIFO)`, async () => {
    const dir = tempDir('keypad');
    const node = new FakeInputNode(join(dir.path, 'event0'));
    const scheduler = new VirtualScheduler();
    const device = await EvdevKeypad.open(
      { path: node.path, keymap: buildKeymap(), eventSize, pollMs: 10, reconnectMs: 100, log: silentLog },
      scheduler,
    );
    return {
      device,
      driver: {
        press: (keys) => node.press(keys, eventSize),
        settle: async () => {
          await scheduler.advance(10);
          await realPause();
        },
      },
      dispose: () => {
        node.dispose();
        dir.remove();
      },
    };
  });
}

for (const activeLow of [false, true]) {
  actuatorContract(
    `MotorActuator (${activeLow ? 'active-low' : 'active-high'} relays, fake GPIO)`,
    'motor',
    async () => {
      const board = motorBoard({ activeLow });
      const gpio = new FakeGpioBackend();
      const scheduler = new VirtualScheduler();
      const bolt = new FakeBolt(gpio, scheduler, {
        chip: 'gpiochip0',
        unlockLine: 20,
        lockLine: 21,
        activeLow,
        lockedStop: { line: 5, activeLow: true },
        unlockedStop: { line: 6, activeLow: true },
        travelMs: 400,
      });
      const device = await openActuator(gpio, board, scheduler, silentLog);
      return {
        device,
        driver: {
          kind: 'motor',
          travelMs: 400,
          energised: () => bolt.energisedToward() !== null,
          jam: () => bolt.jam(),
          unjam: () => bolt.unjam(),
          settle: (ms = 0) => scheduler.advance(ms),
        },
      };
    },
  );
}

for (const failMode of ['fail-secure', 'fail-safe'] as const) {
  actuatorContract(`StrikeActuator (${failMode}, fake GPIO)`, 'strike', async () => {
    const gpio = new FakeGpioBackend();
    const scheduler = new VirtualScheduler();
    const device = await openActuator(gpio, strikeBoard({ failMode }), scheduler, silentLog);
    // A maglock is released while unpowered; the firmware locks it first thing.
    if (failMode === 'fail-safe') {
      device.drive('locked');
      await scheduler.advance(0);
    }
    return {
      device,
      driver: {
        kind: 'strike',
        travelMs: 0,
        energised: () => gpio.outputLevel('gpiochip0', 26) === 1,
        settle: (ms = 0) => scheduler.advance(ms),
      },
    };
  });
}

doorContract('GpioDoorSensor (reed switch, fake GPIO)', async () => {
  const gpio = new FakeGpioBackend();
  const scheduler = new VirtualScheduler();
  gpio.setInput('gpiochip0', 17, 0);
  const device = await openDoor(gpio, motorBoard(), scheduler);
  return {
    device,
    driver: {
      set: (state) => gpio.setInput('gpiochip0', 17, state === 'open' ? 1 : 0),
      settle: () => scheduler.advance(60),
    },
  };
});

for (const activeLow of [false, true]) {
  switchContract(
    `GpioSwitch (${activeLow ? 'active-low' : 'active-high'} exit button, fake GPIO)`,
    async () => {
      const gpio = new FakeGpioBackend();
      const scheduler = new VirtualScheduler();
      const level = (active: boolean) => (active === activeLow ? 0 : 1);
      gpio.setInput('gpiochip0', 16, level(false));
      const board = parseBoardConfig({
        ...motorBoardJson(),
        inputs: { exitButton: { line: 16, activeLow, bias: 'pull-up', debounceMs: 20 } },
      });
      const device = (await openInputs(gpio, board, scheduler, [])).exitButton!;
      return {
        device,
        driver: {
          set: (active) => gpio.setInput('gpiochip0', 16, level(active)),
          settle: () => scheduler.advance(30),
        },
      };
    },
  );
}

rtcContract('SysfsRtc (temp sysfs, fake hwclock)', START, async () => {
  const dir = tempDir('rtc');
  const sinceEpoch = fakeSysfsRtc(dir.path, 'rtc0', START / 1000);
  const device = new SysfsRtc({
    device: 'rtc0',
    validAfterMs: Date.UTC(2024, 0, 1),
    sysfsRoot: join(dir.path, 'sys'),
    devRoot: join(dir.path, 'dev'),
    setRtc: async (seconds) => writeFileSync(sinceEpoch, `${seconds}\n`),
    log: silentLog,
  });
  return {
    device,
    // A DS3231 without OSF support would read its reset date: 2000-01-01.
    driver: { loseBattery: () => writeFileSync(sinceEpoch, '946684800\n') },
    dispose: () => dir.remove(),
  };
});

indicatorContract('GpioIndicator (RGB LED and buzzer, fake GPIO)', async () => {
  const gpio = new FakeGpioBackend();
  const scheduler = new VirtualScheduler();
  const device = await openIndicator(gpio, motorBoard(), scheduler, silentLog);
  const on = (line: number) => gpio.outputLevel('gpiochip0', line) === 1;
  return {
    device,
    driver: {
      led: () => {
        const [red, green, blue] = [on(22), on(23), on(27)];
        if (red && green && !blue) return 'amber';
        if (red && !green && !blue) return 'red';
        if (green && !red && !blue) return 'green';
        if (blue && !red && !green) return 'blue';
        if (!red && !green && !blue) return 'off';
        throw new Error(`no colour shows red=${red} green=${green} blue=${blue}`);
      },
      buzzing: () => on(24),
      settle: (ms) => scheduler.advance(ms),
    },
  };
});

wiegandContract('GpioWiegand (D0/D1 edges with kernel timestamps, fake GPIO)', async () => {
  const gpio = new FakeGpioBackend();
  const scheduler = new VirtualScheduler();
  const config = { chip: 'gpiochip0', d0: 7, d1: 8, bias: 'as-is' as const, frameGapMs: 25 };
  const device = await GpioWiegand.open(gpio, config, scheduler);
  let clockNs = 1_000_000_000n;
  return {
    device,
    driver: {
      send: (bits) => {
        // Bits 2 ms apart, as readers send them; the next frame starts after a long silence.
        for (const bit of bits) {
          gpio.pulse('gpiochip0', bit === 0 ? config.d0 : config.d1, clockNs);
          clockNs += 2_000_000n;
        }
        clockNs += 1_000_000_000n;
      },
      settle: () => scheduler.advance(30),
    },
  };
});
