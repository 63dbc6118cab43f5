/**
 * HAL contract suites: one function per device interface, run against every
 * implementation (sim and linux-with-fake-kernel). Each `build` returns the device and
 * a driver: the test controls that make the hardware side happen (a key pressed, a
 * bolt jammed, a door opened), plus `settle`, which lets that hardware answer (moves
 * virtual time and waits for real I/O where there is some).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoorSensor, DoorState } from '../../hal/door.ts';
import type { Indicator, LedColour } from '../../hal/indicator.ts';
import type { Key, Keypad } from '../../hal/keypad.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../../hal/relay.ts';
import type { Rtc } from '../../hal/rtc.ts';
import type { SwitchInput } from '../../hal/switch-input.ts';
import {
  type Bit,
  encodeWiegand,
  type WiegandReader,
  type WiegandReading,
  type WiegandRefusal,
} from '../../hal/wiegand.ts';

export interface Built<Device, Driver> {
  device: Device;
  driver: Driver;
  /** Removes temp files and the like, after the device is closed. */
  dispose?: () => Promise<void> | void;
}

/** Settles up to `rounds` times until `check` holds; the last check's failure is thrown. */
export async function eventually(check: () => void, settle: () => Promise<void>, rounds = 50): Promise<void> {
  for (let round = 0; ; round++) {
    try {
      check();
      return;
    } catch (error) {
      if (round >= rounds) throw error;
      await settle();
    }
  }
}

function lifecycle<Device extends { close(): Promise<void> }, Driver>(
  build: () => Promise<Built<Device, Driver>>,
) {
  const state: { built?: Built<Device, Driver>; closed: boolean } = { closed: false };
  beforeEach(async () => {
    state.built = await build();
    state.closed = false;
  });
  afterEach(async () => {
    if (!state.closed) await state.built?.device.close();
    await state.built?.dispose?.();
  });
  return {
    get device(): Device {
      return state.built!.device;
    },
    get driver(): Driver {
      return state.built!.driver;
    },
    async close(): Promise<void> {
      state.closed = true;
      await state.built!.device.close();
    },
  };
}

// ---------------------------------------------------------------- keypad

export interface KeypadDriver {
  /** Presses each key of `keys` on the hardware side. */
  press(keys: string): void;
  settle(): Promise<void>;
}

export function keypadContract(name: string, build: () => Promise<Built<Keypad, KeypadDriver>>): void {
  describe(`${name} keeps the Keypad contract`, () => {
    const t = lifecycle(build);

    it('delivers one key per press, in press order, and nothing for releases', async () => {
      const keys: Key[] = [];
      t.device.onKey((key) => keys.push(key));
      t.driver.press('1234*#');
      await eventually(
        () => expect(keys).toEqual(['1', '2', '3', '4', '*', '#']),
        () => t.driver.settle(),
      );
      for (let i = 0; i < 3; i++) await t.driver.settle();
      expect(keys).toHaveLength(6);
    });

    it('delivers on a later tick than the press', async () => {
      const keys: Key[] = [];
      t.device.onKey((key) => keys.push(key));
      t.driver.press('0');
      expect(keys).toEqual([]);
      await eventually(
        () => expect(keys).toEqual(['0']),
        () => t.driver.settle(),
      );
    });

    it('keeps order across separate presses', async () => {
      const keys: Key[] = [];
      t.device.onKey((key) => keys.push(key));
      t.driver.press('9');
      await t.driver.settle();
      t.driver.press('87');
      await eventually(
        () => expect(keys).toEqual(['9', '8', '7']),
        () => t.driver.settle(),
      );
    });

    it('stops delivering to a listener that unsubscribed', async () => {
      const kept: Key[] = [];
      const dropped: Key[] = [];
      t.device.onKey((key) => kept.push(key));
      const unsubscribe = t.device.onKey((key) => dropped.push(key));
      unsubscribe();
      t.driver.press('5');
      await eventually(
        () => expect(kept).toEqual(['5']),
        () => t.driver.settle(),
      );
      expect(dropped).toEqual([]);
    });

    it('delivers no keys after close(), not even ones pressed before it', async () => {
      const keys: Key[] = [];
      t.device.onKey((key) => keys.push(key));
      t.driver.press('12');
      await t.close();
      t.driver.press('34');
      for (let i = 0; i < 5; i++) await t.driver.settle();
      expect(keys).toEqual([]);
    });

    it('rejects a listener that is not a function', () => {
      expect(() => t.device.onKey(42 as never)).toThrow(TypeError);
    });
  });
}

// ---------------------------------------------------------------- actuator

export interface ActuatorDriver {
  /** `motor` has end-stops and travel time; `strike` reports the target once its output is set. */
  kind: 'motor' | 'strike';
  /** Travel time between end-stops (0 for a strike). */
  travelMs: number;
  /** Whether the actuator is powered now (motor: toward either end; strike: coil on). */
  energised(): boolean;
  /** Motor only: the bolt sticks; `unjam` frees it. */
  jam?(): void;
  unjam?(): void;
  /** Moves virtual time forward by `ms` and lets the hardware answer. */
  settle(ms?: number): Promise<void>;
}

export function actuatorContract(
  name: string,
  kind: ActuatorDriver['kind'],
  build: () => Promise<Built<LockActuator, ActuatorDriver>>,
): void {
  describe(`${name} keeps the LockActuator contract`, () => {
    const t = lifecycle(build);
    const record = () => {
      const seen: BoltPosition[] = [];
      t.device.onPosition((position) => seen.push(position));
      return seen;
    };

    it('returns from drive() at once and reports the target once, on a later tick', async () => {
      const seen = record();
      expect(t.device.position()).toBe('locked');
      t.device.drive('unlocked');
      expect(seen).toEqual([]);
      await t.driver.settle(t.driver.travelMs + 50);
      expect(seen).toEqual(['unlocked']);
      expect(t.device.position()).toBe('unlocked');
      await t.driver.settle(t.driver.travelMs * 2 + 50);
      expect(seen).toEqual(['unlocked']);
    });

    it('reports the target when it is already there', async () => {
      const seen = record();
      t.device.drive('locked');
      await t.driver.settle(10);
      expect(seen).toEqual(['locked']);
      expect(t.device.position()).toBe('locked');
    });

    it('drives there and back', async () => {
      const seen = record();
      t.device.drive('unlocked');
      await t.driver.settle(t.driver.travelMs + 50);
      t.device.drive('locked');
      await t.driver.settle(t.driver.travelMs + 50);
      expect(seen).toEqual(['unlocked', 'locked']);
      expect(t.device.position()).toBe('locked');
    });

    it('makes stop() idempotent, also when idle', async () => {
      t.device.stop();
      t.device.stop();
      expect(t.driver.energised()).toBe(false);
      t.device.drive('unlocked');
      t.device.stop();
      t.device.stop();
      await t.driver.settle(5);
      expect(t.driver.energised()).toBe(false);
    });

    it('rejects an unknown target with a RangeError', () => {
      expect(() => t.device.drive('open' as DriveTarget)).toThrow(RangeError);
    });

    it('reports nothing after close()', async () => {
      const seen = record();
      t.device.drive('unlocked');
      await t.close();
      await t.driver.settle(t.driver.travelMs + 50);
      expect(seen).toEqual([]);
    });

    // Only the tests for this kind of actuator are registered: none is skipped.
    if (kind === 'motor')
      describe('with end-stops', () => {
        it('de-energises itself on reaching the end-stop', async () => {
          record();
          t.device.drive('unlocked');
          await t.driver.settle(t.driver.travelMs / 2);
          expect(t.driver.energised()).toBe(true);
          expect(t.device.position()).toBe('between');
          await t.driver.settle(t.driver.travelMs);
          expect(t.driver.energised()).toBe(false);
        });

        it('never reports the target while jammed, and stays energised until stop()', async () => {
          const seen = record();
          t.driver.jam!();
          t.device.drive('unlocked');
          await t.driver.settle(t.driver.travelMs * 10);
          expect(seen).toEqual([]);
          expect(t.driver.energised()).toBe(true);
          t.device.stop();
          await t.driver.settle(1);
          expect(t.driver.energised()).toBe(false);
          expect(seen).toEqual([]);
        });

        it('reaches the target on a retry after the jam clears', async () => {
          const seen = record();
          t.driver.jam!();
          t.device.drive('unlocked');
          await t.driver.settle(t.driver.travelMs * 3);
          t.device.stop();
          t.driver.unjam!();
          t.device.drive('unlocked');
          await t.driver.settle(t.driver.travelMs + 50);
          expect(seen).toEqual(['unlocked']);
          expect(t.driver.energised()).toBe(false);
        });

        it('reports nothing for a drive stopped half way', async () => {
          const seen = record();
          t.device.drive('unlocked');
          await t.driver.settle(t.driver.travelMs / 2);
          t.device.stop();
          await t.driver.settle(t.driver.travelMs * 2);
          expect(seen).toEqual([]);
          expect(t.device.position()).toBe('between');
        });
      });

    if (kind === 'strike')
      describe('without end-stops', () => {
        it('reports the target as soon as the output is set', async () => {
          const seen = record();
          t.device.drive('unlocked');
          await t.driver.settle(0);
          expect(seen).toEqual(['unlocked']);
        });
      });
  });
}

// ---------------------------------------------------------------- door

export interface DoorDriver {
  /** The door itself opens or closes (the reed switch follows). */
  set(state: DoorState): void;
  settle(): Promise<void>;
}

export function doorContract(name: string, build: () => Promise<Built<DoorSensor, DoorDriver>>): void {
  describe(`${name} keeps the DoorSensor contract`, () => {
    const t = lifecycle(build);
    const record = () => {
      const seen: DoorState[] = [];
      t.device.onChange((state) => seen.push(state));
      return seen;
    };

    it('starts closed and reports an opening on a later tick', async () => {
      const seen = record();
      expect(t.device.state()).toBe('closed');
      t.driver.set('open');
      expect(seen).toEqual([]);
      await eventually(
        () => expect(seen).toEqual(['open']),
        () => t.driver.settle(),
      );
      expect(t.device.state()).toBe('open');
    });

    it('never reports the same state twice in a row', async () => {
      const seen = record();
      t.driver.set('open');
      await t.driver.settle();
      t.driver.set('open');
      await t.driver.settle();
      t.driver.set('closed');
      await t.driver.settle();
      t.driver.set('closed');
      await t.driver.settle();
      await t.driver.settle();
      expect(seen).toEqual(['open', 'closed']);
      expect(t.device.state()).toBe('closed');
    });

    it('reports nothing after close()', async () => {
      const seen = record();
      await t.close();
      t.driver.set('open');
      await t.driver.settle();
      await t.driver.settle();
      expect(seen).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------- rtc

export interface RtcDriver {
  /** The backup battery went flat while the board was off. */
  loseBattery(): void;
}

export function rtcContract(
  name: string,
  startEpochMs: number,
  build: () => Promise<Built<Rtc, RtcDriver>>,
): void {
  describe(`${name} keeps the Rtc contract`, () => {
    const t = lifecycle(build);

    it('reads the time and its validity on a later tick', async () => {
      let settled = false;
      const reading = t.device.read().then((value) => {
        settled = true;
        return value;
      });
      await Promise.resolve();
      expect(settled).toBe(false);
      const { epochMs, valid } = await reading;
      expect(valid).toBe(true);
      expect(Math.abs(epochMs - startEpochMs)).toBeLessThan(1000);
    });

    it('reads back what set() wrote, to the second', async () => {
      const target = Date.UTC(2031, 4, 6, 7, 8, 9);
      await t.device.set(target);
      const { epochMs, valid } = await t.device.read();
      expect(valid).toBe(true);
      expect(Math.abs(epochMs - target)).toBeLessThan(1000);
    });

    it('reads invalid after losing power, and valid again once set', async () => {
      t.driver.loseBattery();
      expect((await t.device.read()).valid).toBe(false);
      await t.device.set(startEpochMs);
      const after = await t.device.read();
      expect(after.valid).toBe(true);
      expect(Math.abs(after.epochMs - startEpochMs)).toBeLessThan(1000);
    });

    it('rejects a time that is not a finite number with a RangeError', async () => {
      await expect(t.device.set(Number.NaN)).rejects.toThrow(RangeError);
    });
  });
}

// ---------------------------------------------------------------- indicator

export interface IndicatorDriver {
  /** The colour the LED shows now. */
  led(): LedColour;
  /** Whether the buzzer sounds now. */
  buzzing(): boolean;
  settle(ms: number): Promise<void>;
}

export function indicatorContract(
  name: string,
  build: () => Promise<Built<Indicator, IndicatorDriver>>,
): void {
  describe(`${name} keeps the Indicator contract`, () => {
    const t = lifecycle(build);

    it('changes the LED at once and holds it until the next call', async () => {
      for (const colour of ['red', 'green', 'amber', 'blue', 'off'] as const) {
        t.device.setLed(colour);
        expect(t.driver.led()).toBe(colour);
        await t.driver.settle(60_000);
        expect(t.driver.led()).toBe(colour);
      }
    });

    it('lets a new pattern replace one still playing', async () => {
      t.device.beep('alarm');
      await t.driver.settle(100);
      expect(t.driver.buzzing()).toBe(true);
      t.device.beep('click');
      // The alarm alone would sound again from 1000 to 1250 ms.
      await t.driver.settle(1000);
      expect(t.driver.buzzing()).toBe(false);
    });

    it('sounds each pattern, then ends it silent', async () => {
      for (const pattern of ['click', 'granted', 'denied', 'lockout', 'alarm'] as const) {
        t.device.beep(pattern);
        await t.driver.settle(0);
        expect(t.driver.buzzing(), pattern).toBe(true);
        await t.driver.settle(15_000);
        expect(t.driver.buzzing(), pattern).toBe(false);
      }
    });
  });
}

export interface SwitchDriver {
  /** The button is pressed (true) or let go, the housing opened, the supply failing. */
  set(active: boolean): void;
  settle(): Promise<void>;
}

export function switchContract(name: string, build: () => Promise<Built<SwitchInput, SwitchDriver>>): void {
  describe(`${name} keeps the SwitchInput contract`, () => {
    const t = lifecycle(build);
    const record = () => {
      const seen: boolean[] = [];
      t.device.onChange((active) => seen.push(active));
      return seen;
    };

    it('starts inactive and reports a press on a later tick', async () => {
      const seen = record();
      expect(t.device.active()).toBe(false);
      t.driver.set(true);
      expect(seen).toEqual([]);
      await eventually(
        () => expect(seen).toEqual([true]),
        () => t.driver.settle(),
      );
      expect(t.device.active()).toBe(true);
    });

    it('never reports the same state twice in a row', async () => {
      const seen = record();
      for (const active of [true, true, false, false]) {
        t.driver.set(active);
        await t.driver.settle();
      }
      await t.driver.settle();
      expect(seen).toEqual([true, false]);
      expect(t.device.active()).toBe(false);
    });

    it('reports nothing after close()', async () => {
      const seen = record();
      await t.close();
      t.driver.set(true);
      await t.driver.settle();
      await t.driver.settle();
      expect(seen).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------- Wiegand
export interface WiegandDriver {
  /** One frame's bits on the wires, then the silence that ends it. */
  send(bits: readonly Bit[]): void;
  settle(): Promise<void>;
}

export function wiegandContract(
  name: string,
  build: () => Promise<Built<WiegandReader, WiegandDriver>>,
): void {
  describe(`${name} keeps the WiegandReader contract`, () => {
    const t = lifecycle(build);
    const record = () => {
      const readings: WiegandReading[] = [];
      const refusals: WiegandRefusal[] = [];
      t.device.onReading((reading) => readings.push(reading));
      t.device.onRefused((refusal) => refusals.push(refusal));
      return { readings, refusals };
    };

    it('reads a 26-bit frame as its 24 data bits in decimal, on a later tick', async () => {
      const seen = record();
      t.driver.send(encodeWiegand(2580, 26));
      expect(seen.readings).toEqual([]);
      await eventually(
        () => expect(seen.readings).toEqual([{ bits: 26, digits: '2580' }]),
        () => t.driver.settle(),
      );
      expect(seen.refusals).toEqual([]);
    });

    it('reads a 34-bit frame, up to its 32 data bits', async () => {
      const seen = record();
      t.driver.send(encodeWiegand(4_294_967_295, 34));
      await eventually(
        () => expect(seen.readings).toEqual([{ bits: 34, digits: '4294967295' }]),
        () => t.driver.settle(),
      );
    });

    it('refuses a frame whose even or odd parity bit is wrong, and reads nothing of it', async () => {
      const seen = record();
      const leading = encodeWiegand(123_456, 26);
      leading[0] = leading[0] === 1 ? 0 : 1;
      t.driver.send(leading);
      await t.driver.settle();
      const trailing = encodeWiegand(123_456, 34);
      trailing[33] = trailing[33] === 1 ? 0 : 1;
      t.driver.send(trailing);
      await eventually(
        () =>
          expect(seen.refusals).toEqual([
            { bits: 26, reason: 'parity' },
            { bits: 34, reason: 'parity' },
          ]),
        () => t.driver.settle(),
      );
      expect(seen.readings).toEqual([]);
    });

    it('refuses a frame of any other length (a bit lost, noise)', async () => {
      const seen = record();
      t.driver.send(encodeWiegand(2580, 26).slice(1));
      await t.driver.settle();
      t.driver.send([1, 0, 1, 1]);
      await eventually(
        () =>
          expect(seen.refusals).toEqual([
            { bits: 25, reason: 'length' },
            { bits: 4, reason: 'length' },
          ]),
        () => t.driver.settle(),
      );
      expect(seen.readings).toEqual([]);
    });

    it('keeps frames apart and in order', async () => {
      const seen = record();
      for (const value of [1111, 2222, 3333]) {
        t.driver.send(encodeWiegand(value, 26));
        await t.driver.settle();
      }
      await eventually(
        () => expect(seen.readings.map((reading) => reading.digits)).toEqual(['1111', '2222', '3333']),
        () => t.driver.settle(),
      );
    });

    it('delivers nothing after close()', async () => {
      const seen = record();
      await t.close();
      t.driver.send(encodeWiegand(2580, 26));
      await t.driver.settle();
      await t.driver.settle();
      expect(seen).toEqual({ readings: [], refusals: [] });
    });
  });
}
