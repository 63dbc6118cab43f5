import type { DriveTarget } from '../../hal/relay.ts';
import type { Scheduler, TimerHandle } from '../../hal/scheduler.ts';
import type { FakeGpioBackend } from './fake-gpio.ts';

export interface FakeBoltWiring {
  chip: string;
  unlockLine: number;
  lockLine: number;
  /** Relay inputs energised by a low level. */
  activeLow: boolean;
  lockedStop: { line: number; activeLow: boolean };
  unlockedStop: { line: number; activeLow: boolean };
  travelMs: number;
}

/**
 * The mechanics behind a motor lock on the fake GPIO backend: while a direction output
 * is energised the bolt leaves its end-stop and reaches the other after `travelMs`,
 * unless jammed. End-stops read at their active level while the bolt sits on them.
 */
export class FakeBolt {
  private at: DriveTarget | 'between';
  private travel: TimerHandle | undefined;
  private jammed = false;

  constructor(
    private readonly gpio: FakeGpioBackend,
    private readonly scheduler: Scheduler,
    private readonly wiring: FakeBoltWiring,
    start: DriveTarget = 'locked',
  ) {
    this.at = start;
    this.showEndStops();
    gpio.onOutput(() => this.motorChanged());
  }

  position(): DriveTarget | 'between' {
    return this.at;
  }

  /** Which way the motor is powered now, read off the relay outputs. */
  energisedToward(): DriveTarget | null {
    const on = this.wiring.activeLow ? 0 : 1;
    const unlock = this.gpio.outputLevel(this.wiring.chip, this.wiring.unlockLine) === on;
    const lock = this.gpio.outputLevel(this.wiring.chip, this.wiring.lockLine) === on;
    if (unlock && lock) throw new Error('both motor directions energised: the H-bridge would short');
    return unlock ? 'unlocked' : lock ? 'locked' : null;
  }

  jam(): void {
    this.jammed = true;
    this.scheduler.cancel(this.travel);
    this.travel = undefined;
  }

  unjam(): void {
    this.jammed = false;
    this.motorChanged();
  }

  private motorChanged(): void {
    const toward = this.energisedToward();
    if (!toward) {
      this.scheduler.cancel(this.travel);
      this.travel = undefined;
      return;
    }
    if (this.jammed || this.at === toward || this.travel) return;
    this.at = 'between';
    this.showEndStops();
    this.travel = this.scheduler.after(this.wiring.travelMs, () => {
      this.travel = undefined;
      this.at = toward;
      this.showEndStops();
    });
  }

  private showEndStops(): void {
    const level = (stop: { line: number; activeLow: boolean }, active: boolean) => {
      this.gpio.setInput(this.wiring.chip, stop.line, active === stop.activeLow ? 0 : 1);
    };
    level(this.wiring.lockedStop, this.at === 'locked');
    level(this.wiring.unlockedStop, this.at === 'unlocked');
  }
}
