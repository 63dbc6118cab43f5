import type { GpioOutput, LineValue } from './gpio-backend.ts';
import { describeLine } from './gpio-backend.ts';
import { errorMessage, type HalLog } from './log.ts';

/** The physical level that means "on" (energised) for an output. */
export function activeLevel(activeLow: boolean): LineValue {
  return activeLow ? 0 : 1;
}

export function inactiveLevel(activeLow: boolean): LineValue {
  return activeLow ? 1 : 0;
}

/** Switching off is tried this often before it is reported as failed. */
export const OFF_ATTEMPTS = 3;
/** Pause between attempts: long enough for a tool holding the line to let go. */
export const OFF_RETRY_MS = 100;

export type WaitFn = (ms: number) => Promise<void>;

/** The clock an output needs: pauses between attempts, and when an off was confirmed. */
export interface OutputClock {
  wait: WaitFn;
  now(): number;
}

/**
 * An output seen as on/off, with active-low applied. Redundant writes are skipped:
 * with the gpiod tools every change restarts a line holder, so fewer is better.
 * Switching off is the safe direction, so a failed off is tried again before it is
 * reported (the line may be left released, at whatever level the kernel leaves it).
 * A call made while a write of the same level is still under way resolves with that
 * write, so "resolved" always means "the line holds it", never "it was asked for".
 */
export class SwitchedOutput {
  constructor(
    private readonly output: GpioOutput,
    private readonly activeLow: boolean,
    private readonly log: HalLog,
    private readonly module: string,
    private readonly clock: OutputClock,
  ) {}

  /** The latest write asked for, settled when the line holds its level (or it failed). */
  private latest: Promise<void> = Promise.resolve();
  /** When the line was last confirmed off after being on; undefined while on or never on. */
  private offAt: number | undefined = Number.NEGATIVE_INFINITY;
  /** True after an off() gave up: the level asked for is not known to be driven. */
  private failedOff = false;

  isOn(): boolean {
    return this.output.value() === activeLevel(this.activeLow);
  }

  /** Resolves once the line holds the on level; a failure is logged and rethrown. */
  on(): Promise<void> {
    const level = activeLevel(this.activeLow);
    if (this.output.value() === level) return this.latest;
    this.offAt = undefined;
    this.latest = this.switchOn(level);
    return this.latest;
  }

  /**
   * When the line was last confirmed off after having been on (scheduler time), -Infinity
   * if it was never on, undefined while it is on or its off is not yet confirmed.
   */
  offSince(): number | undefined {
    return this.offAt;
  }

  private async switchOn(level: LineValue): Promise<void> {
    try {
      await this.output.set(level);
    } catch (error) {
      this.log('error', this.module, 'output could not be set', {
        line: describeLine(this.output.address),
        level,
        error: errorMessage(error),
      });
      throw error;
    }
  }

  /** Resolves once the line holds the off level; tried OFF_ATTEMPTS times, then logged and rethrown. */
  off(): Promise<void> {
    const level = inactiveLevel(this.activeLow);
    if (this.output.value() === level && !this.failedOff) return this.latest;
    const write = this.switchOff(level);
    this.latest = write;
    return write;
  }

  private async switchOff(level: LineValue): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.output.set(level);
        this.failedOff = false;
        if (this.output.value() === level) this.offAt ??= this.clock.now();
        return;
      } catch (error) {
        if (attempt < OFF_ATTEMPTS) {
          this.log('warn', this.module, 'output could not be switched off; trying again', {
            line: describeLine(this.output.address),
            attempt,
            error: errorMessage(error),
          });
          await this.clock.wait(OFF_RETRY_MS);
          continue;
        }
        this.failedOff = true;
        this.log('error', this.module, `output could not be switched off after ${OFF_ATTEMPTS} attempts`, {
          line: describeLine(this.output.address),
          level,
          error: errorMessage(error),
        });
        throw error;
      }
    }
  }

  release(): Promise<void> {
    return this.output.release();
  }
}
