import type { Scheduler } from '../scheduler.ts';
import { HAL_INPUT_NAMES, type HalInputs } from '../switch-input.ts';
import type { BoardConfig, InputLineConfig } from './board-config.ts';
import { DebouncedInput } from './debounced-input.ts';
import { GpioDoorSensor } from './door-sensor.ts';
import type { GpioBackend, LineAddress } from './gpio-backend.ts';
import { GpioIndicator, type IndicatorLines } from './gpio-indicator.ts';
import { GpioSwitch } from './gpio-switch.ts';
import { GpioWiegand } from './gpio-wiegand.ts';
import type { HalLog } from './log.ts';
import { MotorActuator } from './motor-actuator.ts';
import { StrikeActuator } from './strike-actuator.ts';
import { inactiveLevel, SwitchedOutput } from './switched-output.ts';

/** Requests an output already at its inactive level, so nothing switches on at start. */
export async function openOutput(
  gpio: GpioBackend,
  address: LineAddress,
  activeLow: boolean,
  scheduler: Scheduler,
  log: HalLog,
  module: string,
): Promise<SwitchedOutput> {
  const output = await gpio.requestOutput({ ...address, initial: inactiveLevel(activeLow) });
  const clock = {
    wait: (ms: number) => new Promise<void>((resolve) => scheduler.after(ms, resolve)),
    now: () => scheduler.now(),
  };
  return new SwitchedOutput(output, activeLow, log, module, clock);
}

export async function openInput(
  gpio: GpioBackend,
  board: BoardConfig,
  config: InputLineConfig,
  debounceMs: number,
  scheduler: Scheduler,
): Promise<DebouncedInput> {
  const input = await gpio.requestInput({
    chip: config.chip ?? board.gpio.chip,
    line: config.line,
    bias: config.bias,
  });
  return new DebouncedInput(input, config.activeLow, debounceMs, scheduler);
}

/** Opens the relay outputs first of all, so the lock is in its safe state as early as possible. */
export async function openActuator(
  gpio: GpioBackend,
  board: BoardConfig,
  scheduler: Scheduler,
  log: HalLog,
): Promise<StrikeActuator | MotorActuator> {
  const relay = board.relay;
  const chip = relay.chip ?? board.gpio.chip;
  if (relay.mode === 'strike') {
    const output = await openOutput(
      gpio,
      { chip, line: relay.strikeLine },
      relay.activeLow,
      scheduler,
      log,
      'relay',
    );
    return new StrikeActuator(output, { failMode: relay.failMode, pulseMs: relay.pulseMs }, scheduler);
  }
  const unlock = await openOutput(
    gpio,
    { chip, line: relay.unlockLine },
    relay.activeLow,
    scheduler,
    log,
    'relay',
  );
  const lock = await openOutput(
    gpio,
    { chip, line: relay.lockLine },
    relay.activeLow,
    scheduler,
    log,
    'relay',
  );
  const lockedStop = await openInput(gpio, board, relay.lockedStop, relay.debounceMs, scheduler);
  const unlockedStop = await openInput(gpio, board, relay.unlockedStop, relay.debounceMs, scheduler);
  return new MotorActuator({ unlock, lock, lockedStop, unlockedStop }, relay.deadTimeMs, scheduler);
}

export async function openDoor(
  gpio: GpioBackend,
  board: BoardConfig,
  scheduler: Scheduler,
): Promise<GpioDoorSensor> {
  return new GpioDoorSensor(await openInput(gpio, board, board.door, board.door.debounceMs, scheduler));
}

/** The board's optional switches (exit button, tamper, power fail), each on its own input. */
export async function openInputs(
  gpio: GpioBackend,
  board: BoardConfig,
  scheduler: Scheduler,
  opened: Array<{ close(): Promise<void> }>,
): Promise<HalInputs> {
  const inputs: HalInputs = {};
  for (const name of HAL_INPUT_NAMES) {
    const config = board.inputs[name];
    if (!config) continue;
    const device = new GpioSwitch(await openInput(gpio, board, config, config.debounceMs, scheduler));
    opened.push(device);
    inputs[name] = device;
  }
  return inputs;
}

export async function openIndicator(
  gpio: GpioBackend,
  board: BoardConfig,
  scheduler: Scheduler,
  log: HalLog,
): Promise<GpioIndicator> {
  const lines: IndicatorLines = {};
  const { led, buzzer } = board.indicator;
  if (led) {
    const chip = led.chip ?? board.gpio.chip;
    for (const colour of ['red', 'green', 'blue'] as const) {
      const line = led[colour];
      if (line !== undefined)
        lines[colour] = await openOutput(gpio, { chip, line }, led.activeLow, scheduler, log, 'indicator');
    }
  }
  if (buzzer) {
    const address = { chip: buzzer.chip ?? board.gpio.chip, line: buzzer.line };
    lines.buzzer = await openOutput(gpio, address, buzzer.activeLow, scheduler, log, 'indicator');
  }
  return new GpioIndicator(lines, scheduler);
}

/** The board's Wiegand reader, if it has one: D0 and D1 as one ordered edge request. */
export async function openWiegand(
  gpio: GpioBackend,
  board: BoardConfig,
  scheduler: Scheduler,
): Promise<GpioWiegand | undefined> {
  const wiegand = board.wiegand;
  if (!wiegand) return undefined;
  return GpioWiegand.open(gpio, { ...wiegand, chip: wiegand.chip ?? board.gpio.chip }, scheduler);
}
