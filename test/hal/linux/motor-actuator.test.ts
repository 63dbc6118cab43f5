import { describe, expect, it } from 'vitest';
import { silentLog } from '../../../hal/linux/log.ts';
import type { MotorActuator } from '../../../hal/linux/motor-actuator.ts';
import { openActuator } from '../../../hal/linux/open-devices.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../../../hal/relay.ts';
import { type Scheduler, VirtualScheduler } from '../../../hal/scheduler.ts';
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

  it('keeps the whole dead time when the timer fires early (libuv rounds its clock to whole ms)', async () => {
    const scheduler = new VirtualScheduler();
    // A timer that fires 1 ms before it is due, as Node's can by performance.now().
    const early: Scheduler = {
      now: () => scheduler.now(),
      after: (ms, fn) => scheduler.after(ms > 1 ? ms - 1 : ms, fn),
      every: (ms, fn) => scheduler.every(ms, fn),
      cancel: (handle) => scheduler.cancel(handle),
    };
    const gpio = new FakeGpioBackend(() => scheduler.now());
    for (const endStop of [5, 6]) gpio.setInput('gpiochip0', endStop, 1); // active-low: bolt between
    const actuator = await openActuator(gpio, motorBoard(), early, silentLog);
    actuator.drive('unlocked');
    await scheduler.advance(100);
    actuator.drive('locked');
    await scheduler.advance(200);
    expect(gpio.trace().slice(4, 7)).toEqual([
      'set gpiochip0:20=1 @0',
      'set gpiochip0:20=0 @100',
      'set gpiochip0:21=1 @150', // not @149: the remaining millisecond is waited for
    ]);
    await actuator.close();
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

describe('MotorActuator on a slow backend (each write lands when a gpioset restart would)', () => {
  /**
   * Writes take 30-330 ms to reach the line, as measured for gpioset restarts on a Pi.
   * Records when each direction line really changes, and any moment both are on.
   */
  async function slowRig(latencies: Record<string, number[]>) {
    const scheduler = new VirtualScheduler();
    const queues = new Map(Object.entries(latencies).map(([line, list]) => [line, [...list]]));
    const gpio = new FakeGpioBackend(() => scheduler.now(), undefined, {
      scheduler,
      ms: (line) => queues.get(line)?.shift() ?? 30,
    });
    const bolt = new FakeBolt(gpio, scheduler, {
      chip: 'gpiochip0',
      unlockLine: 20,
      lockLine: 21,
      activeLow: false,
      lockedStop: { line: 5, activeLow: true },
      unlockedStop: { line: 6, activeLow: true },
      travelMs: TRAVEL_MS,
    });
    const shorts: number[] = [];
    gpio.onOutput(() => {
      if (gpio.outputLevel('gpiochip0', 20) === 1 && gpio.outputLevel('gpiochip0', 21) === 1)
        shorts.push(scheduler.now());
    });
    const actuator = (await openActuator(gpio, motorBoard(), scheduler, silentLog)) as MotorActuator;
    const positions: string[] = [];
    actuator.onPosition((position) => positions.push(`${position} @${scheduler.now()}`));
    return { scheduler, gpio, bolt, actuator, positions, shorts };
  }

  it('reverses only once the other direction is off on the line, then after the dead time', async () => {
    // The unlock line's off takes 330 ms to land; the lock line's on only 10 ms.
    const { scheduler, gpio, actuator, positions, shorts } = await slowRig({
      'gpiochip0:20': [30, 330],
      'gpiochip0:21': [10],
    });
    actuator.drive('unlocked');
    await scheduler.advance(100);
    actuator.drive('locked');
    await scheduler.advance(1500);
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @30',
      'set gpiochip0:20=0 @430', // asked at 100, on the line at 430
      'set gpiochip0:21=1 @490', // 50 ms dead time from 430, plus the lock line's own 10 ms
      'set gpiochip0:21=0 @920', // cut at the end-stop: 890 (+ 30)
    ]);
    expect(shorts).toEqual([]);
    expect(positions).toEqual(['locked @895']);
  });

  it('a reversal asked for while the cut is still on its way waits for it too', async () => {
    const { scheduler, gpio, actuator, shorts } = await slowRig({ 'gpiochip0:20': [5, 200] });
    actuator.drive('unlocked');
    await scheduler.advance(50);
    actuator.stop(); // unlock off asked at 50, lands at 250
    await scheduler.advance(10);
    actuator.drive('locked'); // the unlock line still reads on
    await scheduler.advance(400);
    expect(gpio.trace().slice(4, 7)).toEqual([
      'set gpiochip0:20=1 @5',
      'set gpiochip0:20=0 @250',
      'set gpiochip0:21=1 @330', // 250 + 50 dead time + 30 to land
    ]);
    expect(shorts).toEqual([]);
  });

  it('never energises the other direction when this one cannot be switched off', async () => {
    const { scheduler, gpio, actuator } = await slowRig({});
    actuator.drive('unlocked');
    await scheduler.advance(100);
    // The unlock line's holder is gone for good: every write to it fails.
    const unlock = (actuator as unknown as { lines: { unlock: { output: { set: () => Promise<void> } } } })
      .lines.unlock.output;
    unlock.set = async () => {
      throw new Error('gpioset failed: Device or resource busy');
    };
    actuator.drive('locked');
    await scheduler.advance(2000);
    expect(gpio.outputLevel('gpiochip0', 21)).toBe(0);
    expect(gpio.trace().filter((op) => op.startsWith('set gpiochip0:21'))).toEqual([]);
  });
});

describe('MotorActuator close() on a slow backend', () => {
  it('releases the direction lines only once their off has landed', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend(() => scheduler.now(), undefined, { scheduler, ms: () => 120 });
    new FakeBolt(gpio, scheduler, {
      chip: 'gpiochip0',
      unlockLine: 20,
      lockLine: 21,
      activeLow: false,
      lockedStop: { line: 5, activeLow: true },
      unlockedStop: { line: 6, activeLow: true },
      travelMs: TRAVEL_MS,
    });
    const actuator = await openActuator(gpio, motorBoard(), scheduler, silentLog);
    actuator.drive('unlocked');
    await scheduler.advance(200);
    let closed = false;
    const closing = actuator.close().then(() => {
      closed = true;
    });
    await scheduler.advance(100);
    expect(closed).toBe(false);
    await scheduler.advance(100);
    await closing;
    expect(gpio.trace().slice(4)).toEqual([
      'set gpiochip0:20=1 @120',
      'set gpiochip0:20=0 @320',
      'release gpiochip0:20 @320',
      'release gpiochip0:21 @320',
      'release gpiochip0:5 @320',
      'release gpiochip0:6 @320',
    ]);
  });
});
