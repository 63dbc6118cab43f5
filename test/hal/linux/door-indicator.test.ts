import { describe, expect, it } from 'vitest';
import type { DoorState } from '../../../hal/door.ts';
import { BUZZER_PATTERNS } from '../../../hal/linux/buzzer-patterns.ts';
import { openDoor, openIndicator } from '../../../hal/linux/open-devices.ts';
import { VirtualScheduler } from '../../../hal/scheduler.ts';
import { FakeGpioBackend } from '../fake-gpio.ts';
import { motorBoard, strikeBoard } from '../linux-boards.ts';

describe('GpioDoorSensor', () => {
  it('reports a bouncing reed switch once, debounceMs after it settles', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend(() => scheduler.now());
    gpio.setInput('gpiochip0', 17, 0);
    const door = await openDoor(gpio, motorBoard(), scheduler);
    const seen: string[] = [];
    door.onChange((state: DoorState) => seen.push(`${state} @${scheduler.now()}`));
    for (const level of [1, 0, 1, 0, 1] as const) {
      gpio.setInput('gpiochip0', 17, level);
      await scheduler.advance(10);
    }
    expect(door.state()).toBe('closed');
    await scheduler.advance(100);
    expect(seen).toEqual(['open @90']);
    expect(door.state()).toBe('open');
    expect(gpio.trace()[0]).toBe('request-input gpiochip0:17 pull-up @0');
  });

  it('ignores a glitch shorter than the debounce time', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend();
    const door = await openDoor(gpio, motorBoard(), scheduler);
    const seen: DoorState[] = [];
    door.onChange((state) => seen.push(state));
    gpio.setInput('gpiochip0', 17, 1);
    await scheduler.advance(20);
    gpio.setInput('gpiochip0', 17, 0);
    await scheduler.advance(200);
    expect(seen).toEqual([]);
  });

  it('reads an open door at start', async () => {
    const gpio = new FakeGpioBackend();
    gpio.setInput('gpiochip0', 17, 1);
    const door = await openDoor(gpio, motorBoard(), new VirtualScheduler());
    expect(door.state()).toBe('open');
  });
});

describe('GpioIndicator', () => {
  it('plays "denied" as three timed beeps on the buzzer line', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend(() => scheduler.now());
    const indicator = await openIndicator(gpio, motorBoard(), scheduler, () => {});
    indicator.beep('denied');
    await scheduler.advance(2000);
    expect(BUZZER_PATTERNS.denied).toEqual([120, 80, 120, 80, 120]);
    expect(gpio.trace().filter((op) => op.startsWith('set'))).toEqual([
      'set gpiochip0:24=1 @0',
      'set gpiochip0:24=0 @120',
      'set gpiochip0:24=1 @200',
      'set gpiochip0:24=0 @320',
      'set gpiochip0:24=1 @400',
      'set gpiochip0:24=0 @520',
    ]);
  });

  it('cuts a playing pattern short when a new one starts', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend(() => scheduler.now());
    const indicator = await openIndicator(gpio, motorBoard(), scheduler, () => {});
    indicator.beep('granted');
    await scheduler.advance(100);
    indicator.beep('click');
    await scheduler.advance(2000);
    // "click" starts while the buzzer is already on, so only its end shows.
    expect(gpio.trace().filter((op) => op.startsWith('set'))).toEqual([
      'set gpiochip0:24=1 @0',
      'set gpiochip0:24=0 @130',
    ]);
  });

  it('mixes amber from red and green, and shows what it can of blue without a blue line', async () => {
    const gpio = new FakeGpioBackend();
    const indicator = await openIndicator(gpio, strikeBoard(), new VirtualScheduler(), () => {});
    indicator.setLed('amber');
    expect([gpio.outputLevel('gpiochip0', 22), gpio.outputLevel('gpiochip0', 23)]).toEqual([1, 1]);
    indicator.setLed('blue');
    expect([gpio.outputLevel('gpiochip0', 22), gpio.outputLevel('gpiochip0', 23)]).toEqual([0, 0]);
  });

  it('rejects unknown colours and patterns with a RangeError', async () => {
    const indicator = await openIndicator(
      new FakeGpioBackend(),
      motorBoard(),
      new VirtualScheduler(),
      () => {},
    );
    expect(() => indicator.setLed('purple' as 'red')).toThrow(RangeError);
    expect(() => indicator.beep('siren' as 'alarm')).toThrow(RangeError);
  });

  it('turns everything off and releases the lines on close()', async () => {
    const scheduler = new VirtualScheduler();
    const gpio = new FakeGpioBackend();
    const indicator = await openIndicator(gpio, motorBoard(), scheduler, () => {});
    indicator.setLed('green');
    indicator.beep('alarm');
    await indicator.close();
    await scheduler.advance(20_000);
    expect(gpio.trace().slice(-6)).toEqual([
      'set gpiochip0:23=0',
      'set gpiochip0:24=0',
      'release gpiochip0:22',
      'release gpiochip0:23',
      'release gpiochip0:27',
      'release gpiochip0:24',
    ]);
  });
});
