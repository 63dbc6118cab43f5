import type { DoorSensor } from './door.ts';
import type { Indicator } from './indicator.ts';
import type { Keypad } from './keypad.ts';
import type { LockActuator } from './relay.ts';
import type { Rtc } from './rtc.ts';
import type { Scheduler } from './scheduler.ts';
import { SimActuator } from './sim/actuator.ts';
import { SimDoor } from './sim/door.ts';
import { SimIndicator } from './sim/indicator.ts';
import { SimKeypad } from './sim/keypad.ts';
import { SimRtc } from './sim/rtc.ts';
import { SimSwitch } from './sim/switch.ts';
import { SimWiegand } from './sim/wiegand.ts';
import type { HalInputs } from './switch-input.ts';
import type { WiegandReader } from './wiegand.ts';

export type { DoorSensor, DoorState } from './door.ts';
export type { BuzzerPattern, Indicator, LedColour } from './indicator.ts';
export type { Key, Keypad } from './keypad.ts';
export type { BoltPosition, DriveTarget, LockActuator } from './relay.ts';
export type { Rtc, RtcReading } from './rtc.ts';
export type { Scheduler, TimerHandle } from './scheduler.ts';
export type { HalInputName, HalInputs, SwitchInput } from './switch-input.ts';
export type { WiegandReader, WiegandReading, WiegandRefusal } from './wiegand.ts';

/** The devices of one lock board. */
export interface Hal {
  readonly kind: 'sim' | 'linux';
  readonly keypad: Keypad;
  readonly actuator: LockActuator;
  readonly rtc: Rtc;
  readonly indicator: Indicator;
  readonly door: DoorSensor;
  /** Exit button, tamper switch, power-fail signal: each only if the board has it. */
  readonly inputs: HalInputs;
  /** A Wiegand reader or keypad (26/34-bit frames), if the board has one. */
  readonly wiegand?: WiegandReader;
  /** Leaves outputs in their safe state and releases the devices. */
  close(): Promise<void>;
}

/** The simulated board, with each device's test-only controls reachable. */
export interface SimHal extends Hal {
  readonly kind: 'sim';
  readonly keypad: SimKeypad;
  readonly actuator: SimActuator;
  readonly rtc: SimRtc;
  readonly indicator: SimIndicator;
  readonly door: SimDoor;
  /** The simulated board has every optional input. */
  readonly inputs: { exitButton: SimSwitch; tamper: SimSwitch; powerFail: SimSwitch };
  readonly wiegand: SimWiegand;
}

export interface SimHalOptions {
  /** Wall time the simulated RTC starts at (epoch ms); defaults to the host clock. */
  startEpochMs?: number;
  /** Bolt travel time between end-stops. */
  travelMs?: number;
  /** False to start with an RTC that lost its battery. */
  rtcValid?: boolean;
}

export type HalOptions = ({ kind: 'sim' } & SimHalOptions) | { kind: 'linux'; boardFile: string };

export function createSimHal(scheduler: Scheduler, options: SimHalOptions = {}): SimHal {
  const keypad = new SimKeypad();
  const actuator = new SimActuator(scheduler, { travelMs: options.travelMs ?? 400 });
  const rtc = new SimRtc(scheduler, options.startEpochMs ?? Date.now(), options.rtcValid ?? true);
  const indicator = new SimIndicator(scheduler);
  const door = new SimDoor();
  const inputs = { exitButton: new SimSwitch(), tamper: new SimSwitch(), powerFail: new SimSwitch() };
  const wiegand = new SimWiegand();
  return {
    kind: 'sim',
    keypad,
    actuator,
    rtc,
    indicator,
    door,
    inputs,
    wiegand,
    async close() {
      actuator.stop();
      await Promise.all([
        keypad.close(),
        wiegand.close(),
        actuator.close(),
        rtc.close(),
        indicator.close(),
        door.close(),
        ...Object.values(inputs).map((input) => input.close()),
      ]);
    },
  };
}

/** Chooses the board: the simulator, or the Linux drivers configured by a board file. */
export async function createHal(options: HalOptions, scheduler: Scheduler): Promise<Hal> {
  if (options.kind === 'sim') return createSimHal(scheduler, options);
  if (options.kind === 'linux') {
    const { createLinuxHal } = await import('./linux/index.ts');
    return createLinuxHal(options.boardFile, scheduler);
  }
  throw new RangeError(`options.kind must be 'sim' or 'linux'`);
}
