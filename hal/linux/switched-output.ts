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

/**
 * An output seen as on/off, with active-low applied. Redundant writes are skipped:
 * with the gpiod tools every change restarts a line holder, so fewer is better.
 */
export class SwitchedOutput {
  constructor(
    private readonly output: GpioOutput,
    private readonly activeLow: boolean,
    private readonly log: HalLog,
    private readonly module: string,
  ) {}

  isOn(): boolean {
    return this.output.value() === activeLevel(this.activeLow);
  }

  on(): Promise<void> {
    return this.write(activeLevel(this.activeLow));
  }

  off(): Promise<void> {
    return this.write(inactiveLevel(this.activeLow));
  }

  release(): Promise<void> {
    return this.output.release();
  }

  /** Resolves once the line holds the level; a failure is logged and rethrown. */
  private async write(level: LineValue): Promise<void> {
    if (this.output.value() === level) return;
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
}
