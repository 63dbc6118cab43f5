import { describe, expect, it } from 'vitest';
import { silentLog } from '../../../hal/linux/log.ts';
import type { MotorActuator } from '../../../hal/linux/motor-actuator.ts';
import { openActuator } from '../../../hal/linux/open-devices.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../../../hal/relay.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { FakeBolt } from '../fake-bolt.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { motorBoard } from '../linux-boards.ts';

const TRAVEL_MS = 400;

async function motorRig(options: { activeLow?: boolean } = {}) {
  const activeLow = options.activeLow ?? false;
  const scheduler = new VirtualScheduler();
  const gpio = new FakeGpioBackend(() => scheduler.now());
  const bolt = new FakeBolt(gpio, scheduler, {
    chip: 'gpiochip0',
    unlockLine: 20,
    lockLine: 21,
    activeLow,
    lockedStop: { line: 5, activeLow: true },
    unlockedStop: { line: 6, activeLow: true },
    travelMs: TRAVEL_MS,
  });
  const actuator = (await openActuator(
    gpio,
    motorBoard({ activeLow }),
    scheduler,
    silentLog,
  )) as MotorActuator;
  const positions: string[] = [];
  actuator.onPosition((position) => positions.push(`${position} @${scheduler.now()}`));
  return { scheduler, gpio, bolt, actuator, positions };
}

/**
 * What the firmware's lock does (hal/relay.ts leaves it the timeout and the retries):
 * drive, wait for the position up to `timeoutMs`, stop() on timeout, try again.
 */
async function actuateWithRetry(
  actuator: LockActuator,
  scheduler: VirtualScheduler,
  target: DriveTarget,
  options: { timeoutMs: number; attempts: number; beforeRetry?: () => void },
): Promise<'reached' | 'jammed'> {
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    if (attempt > 1) options.beforeRetry?.();
    let reached = false;
    const unsubscribe = actuator.onPosition((position: BoltPosition) => {
      if (position === target) reached = true;
    });
    actuator.drive(target);
    const timeout = scheduler.after(options.timeoutMs, () => {
      if (!reached) actuator.stop();
    });
    for (let waited = 0; waited < options.timeoutMs && !reached; waited += 10) await scheduler.advance(10);
    scheduler.cancel(timeout);
    unsubscribe();
    if (reached) return 'reached';
  }
  return 'jammed';
}

describe('MotorActuator line operations', () => {
  it('requests both direction outputs off before anything else, then the end-stops', async () => {
    const { gpio } = await motorRig();
    expect(gpio.trace()).toEqual([
      'request-output gpiochip0:20=0 @0',
      'request-output gpiochip0:21=0 @0',
      'request-input gpiochip0:5 pull-up @0',
      'request-input gpiochip0:6 pull-up @0',
    ]);
  });

  it('unlocks through a jam: energise, time out, stop, retry, cut at the end-stop', async () => {
    const { scheduler, gpio, bolt, actuator, positions } = await motorRig();
    bolt.jam();
    const outcome = await actuateWithRetry(actuator, scheduler, 'unlocked', {
      timeoutMs: 2000,
      attempts: 3,
      beforeRetry: () => bolt.unjam(),
    });
    expect(outcome).toBe('reached');
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @0', // attempt 1: motor on toward unlocked
      'set gpiochip0:20=0 @2000', // jammed: the firmware's timeout calls stop()
      'set gpiochip0:20=1 @2000', // attempt 2
      'set gpiochip0:20=0 @2400', // unlocked end-stop's first edge cuts the motor
    ]);
    // The position waits for the end-stop to settle (debounceMs 5).
    expect(positions).toEqual(['unlocked @2405']);
    expect(actuator.position()).toBe('unlocked');
    expect(gpio.outputLevel('gpiochip0', 21)).toBe(0);
  });

  it('gives up after the last attempt with the motor off', async () => {
    const { scheduler, gpio, bolt, actuator, positions } = await motorRig();
    bolt.jam();
    const outcome = await actuateWithRetry(actuator, scheduler, 'unlocked', { timeoutMs: 1000, attempts: 2 });
    expect(outcome).toBe('jammed');
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @0',
      'set gpiochip0:20=0 @1000',
      'set gpiochip0:20=1 @1000',
      'set gpiochip0:20=0 @2000',
    ]);
    expect(positions).toEqual([]);
    expect(actuator.position()).toBe('locked');
  });

  it('drives active-low relays with the levels inverted', async () => {
    const { scheduler, gpio, actuator, positions } = await motorRig({ activeLow: true });
    actuator.drive('unlocked');
    await scheduler.advance(TRAVEL_MS + 10);
    expect(gpio.trace()).toEqual([
      'request-output gpiochip0:20=1 @0',
      'request-output gpiochip0:21=1 @0',
      'request-input gpiochip0:5 pull-up @0',
      'request-input gpiochip0:6 pull-up @0',
      'set gpiochip0:20=0 @0',
      'set gpiochip0:20=1 @400',
    ]);
    expect(positions).toEqual(['unlocked @405']);
  });

  it('reverses through the dead time, never powering both directions', async () => {
    const { scheduler, gpio, actuator, positions } = await motorRig();
    actuator.drive('unlocked');
    await scheduler.advance(100);
    actuator.drive('locked');
    await scheduler.advance(1000);
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @0',
      'set gpiochip0:20=0 @100',
      'set gpiochip0:21=1 @150', // deadTimeMs 50 with both off
      'set gpiochip0:21=0 @550',
    ]);
    expect(positions).toEqual(['locked @555']);
  });

  it('cancels a pending reversal on stop()', async () => {
    const { scheduler, gpio, actuator } = await motorRig();
    actuator.drive('unlocked');
    await scheduler.advance(100);
    actuator.drive('locked');
    actuator.stop();
    await scheduler.advance(500);
    expect(gpio.trace().slice(4)).toEqual(['set gpiochip0:20=1 @0', 'set gpiochip0:20=0 @100']);
  });

  it('reports once through end-stop bounce, with the motor cut at the first edge', async () => {
    const { scheduler, gpio, bolt, actuator, positions } = await motorRig();
    bolt.jam(); // the bolt is moved by hand below, so the switch can chatter
    actuator.drive('unlocked');
    await scheduler.advance(10);
    gpio.setInput('gpiochip0', 5, 1); // off the locked end-stop
    for (const level of [0, 1, 0, 1, 0] as const) {
      gpio.setInput('gpiochip0', 6, level); // unlocked end-stop closes, bouncing
      await scheduler.advance(1);
    }
    await scheduler.advance(20);
    expect(gpio.trace().slice(4)).toEqual(['set gpiochip0:20=1 @0', 'set gpiochip0:20=0 @10']);
    // Settled 5 ms after the last bounce (edges at 10..14).
    expect(positions).toEqual(['unlocked @19']);
  });

  it('releases every line in its off state on close()', async () => {
    const { scheduler, gpio, actuator } = await motorRig();
    actuator.drive('unlocked');
    await scheduler.advance(100);
    await actuator.close();
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @0',
      'set gpiochip0:20=0 @100',
      'release gpiochip0:20 @100',
      'release gpiochip0:21 @100',
      'release gpiochip0:5 @100',
      'release gpiochip0:6 @100',
    ]);
  });
});
