import { describe, expect, it } from 'vitest';
import { GpioError } from '../../../hal/linux/errors.ts';
import type { GpioOutput } from '../../../hal/linux/gpio-backend.ts';
import type { HalLog } from '../../../hal/linux/log.ts';
import { openActuator } from '../../../hal/linux/open-devices.ts';
import { StrikeActuator } from '../../../hal/linux/strike-actuator.ts';
import { SwitchedOutput } from '../../../hal/linux/switched-output.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { strikeBoard } from '../linux-boards.ts';

async function strikeRig(options: Parameters<typeof strikeBoard>[0] = {}) {
  const scheduler = new VirtualScheduler();
  const gpio = new FakeGpioBackend(() => scheduler.now());
  const actuator = await openActuator(gpio, strikeBoard(options), scheduler, () => {});
  const positions: string[] = [];
  actuator.onPosition((position) => positions.push(`${position} @${scheduler.now()}`));
  return { scheduler, gpio, actuator, positions };
}

describe('StrikeActuator', () => {
  it('energises a fail-secure strike to unlock and relocks when the pulse ends', async () => {
    const { scheduler, gpio, actuator, positions } = await strikeRig({ pulseMs: 3000 });
    actuator.drive('unlocked');
    await scheduler.advance(5000);
    expect(gpio.trace()).toEqual([
      'request-output gpiochip0:26=0 @0',
      'set gpiochip0:26=1 @0',
      'set gpiochip0:26=0 @3000',
    ]);
    expect(positions).toEqual(['unlocked @0', 'locked @3000']);
    expect(actuator.position()).toBe('locked');
  });

  it('holds a fail-secure strike without a pulse until told to lock', async () => {
    const { scheduler, gpio, actuator, positions } = await strikeRig();
    actuator.drive('unlocked');
    await scheduler.advance(60_000);
    actuator.drive('locked');
    await scheduler.advance(0);
    expect(gpio.trace().slice(1)).toEqual(['set gpiochip0:26=1 @0', 'set gpiochip0:26=0 @60000']);
    expect(positions).toEqual(['unlocked @0', 'locked @60000']);
  });

  it('cancels the pulse when locked early, so no late relock is reported', async () => {
    const { scheduler, actuator, positions } = await strikeRig({ pulseMs: 3000 });
    actuator.drive('unlocked');
    await scheduler.advance(1000);
    actuator.drive('locked');
    await scheduler.advance(5000);
    expect(positions).toEqual(['unlocked @0', 'locked @1000']);
  });

  it('energises a fail-safe maglock to lock, and stop() releases it as a power cut would', async () => {
    const { scheduler, gpio, actuator, positions } = await strikeRig({ failMode: 'fail-safe' });
    expect(actuator.position()).toBe('unlocked');
    actuator.drive('locked');
    await scheduler.advance(10);
    actuator.stop();
    await scheduler.advance(10);
    expect(gpio.trace().slice(1)).toEqual(['set gpiochip0:26=1 @0', 'set gpiochip0:26=0 @10']);
    expect(positions).toEqual(['locked @0']);
    expect(actuator.position()).toBe('unlocked');
  });

  it('drives an active-low relay low to energise it', async () => {
    const { scheduler, gpio, actuator } = await strikeRig({ activeLow: true });
    actuator.drive('unlocked');
    await scheduler.advance(0);
    expect(gpio.trace()).toEqual(['request-output gpiochip0:26=1 @0', 'set gpiochip0:26=0 @0']);
  });

  it('reports no position when the output cannot be set, and logs why', async () => {
    const scheduler = new VirtualScheduler();
    const failing: GpioOutput = {
      address: { chip: 'gpiochip0', line: 26 },
      value: () => 0,
      set: async () => {
        throw new GpioError('gpioset failed: Device or resource busy');
      },
      release: async () => {},
    };
    const logs: string[] = [];
    const log: HalLog = (level, module, msg, fields) =>
      logs.push(`${level} ${module} ${msg} ${JSON.stringify(fields)}`);
    const actuator = new StrikeActuator(
      new SwitchedOutput(failing, false, log, 'relay', { wait: async () => {}, now: () => scheduler.now() }),
      { failMode: 'fail-secure' },
      scheduler,
    );
    const positions: string[] = [];
    actuator.onPosition((position) => positions.push(position));
    actuator.drive('unlocked');
    await scheduler.advance(100);
    expect(positions).toEqual([]);
    expect(logs).toEqual([
      'error relay output could not be set {"line":"gpiochip0 line 26","level":1,"error":"gpioset failed: Device or resource busy"}',
    ]);
  });

  it('checks its options', () => {
    const output = {} as SwitchedOutput;
    const scheduler = new VirtualScheduler();
    expect(() => new StrikeActuator(output, { failMode: 'fail-open' as 'fail-safe' }, scheduler)).toThrow(
      RangeError,
    );
    expect(() => new StrikeActuator(output, { failMode: 'fail-secure', pulseMs: -1 }, scheduler)).toThrow(
      /options.pulseMs/,
    );
  });
});
