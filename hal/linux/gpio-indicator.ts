import type { BuzzerPattern, Indicator, LedColour } from '../indicator.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import { BUZZER_PATTERNS, isBuzzerPattern } from './buzzer-patterns.ts';
import type { SwitchedOutput } from './switched-output.ts';

export interface IndicatorLines {
  red?: SwitchedOutput;
  green?: SwitchedOutput;
  blue?: SwitchedOutput;
  buzzer?: SwitchedOutput;
}

type Channel = 'red' | 'green' | 'blue';

/** Which LED channels light for each colour; amber mixes red and green. */
const CHANNELS: Readonly<Record<LedColour, readonly Channel[]>> = {
  off: [],
  red: ['red'],
  green: ['green'],
  amber: ['red', 'green'],
  blue: ['blue'],
};

/**
 * Status LED on up to three GPIO outputs and a buzzer whose patterns are timed on
 * the scheduler. A colour needing a channel the board lacks shows what it can (blue
 * on a red/green LED shows nothing).
 */
export class GpioIndicator implements Indicator {
  private steps: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly lines: IndicatorLines,
    private readonly scheduler: Scheduler,
  ) {}

  setLed(colour: LedColour): void {
    if (!Object.hasOwn(CHANNELS, colour))
      throw new RangeError(`colour must be one of off, green, red, amber, blue`);
    if (this.closed) return;
    const lit = CHANNELS[colour];
    for (const channel of ['red', 'green', 'blue'] as const) {
      const output = this.lines[channel];
      if (!output) continue;
      (lit.includes(channel) ? output.on() : output.off()).catch(() => undefined);
    }
  }

  beep(pattern: BuzzerPattern): void {
    if (!isBuzzerPattern(pattern))
      throw new RangeError(`pattern must be one of ${Object.keys(BUZZER_PATTERNS).join(', ')}`);
    if (this.closed || !this.lines.buzzer) return;
    this.scheduler.cancel(this.steps);
    this.play(BUZZER_PATTERNS[pattern], 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scheduler.cancel(this.steps);
    const outputs = [this.lines.red, this.lines.green, this.lines.blue, this.lines.buzzer].filter(
      (output): output is SwitchedOutput => output !== undefined,
    );
    await Promise.allSettled(outputs.map((output) => output.off()));
    await Promise.allSettled(outputs.map((output) => output.release()));
  }

  private play(durations: readonly number[], index: number): void {
    const buzzer = this.lines.buzzer!;
    const duration = durations[index];
    if (duration === undefined) {
      this.steps = undefined;
      buzzer.off().catch(() => undefined);
      return;
    }
    (index % 2 === 0 ? buzzer.on() : buzzer.off()).catch(() => undefined);
    this.steps = this.scheduler.after(duration, () => this.play(durations, index + 1));
  }
}
