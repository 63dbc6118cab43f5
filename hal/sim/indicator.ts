import type { BuzzerPattern, Indicator, LedColour } from '../indicator.ts';
import { BUZZER_PATTERNS } from '../linux/buzzer-patterns.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';

export interface IndicatorRecord {
  led?: LedColour;
  beep?: BuzzerPattern;
}

/**
 * Simulated LED and buzzer. Test controls: `led`, `lastBeep`, `buzzing` (the buzzer
 * sounds now: patterns are timed on the scheduler like the GPIO buzzer's), the
 * `history` recording.
 */
export class SimIndicator implements Indicator {
  led: LedColour = 'off';
  lastBeep: BuzzerPattern | null = null;
  buzzing = false;
  readonly history: IndicatorRecord[] = [];
  private steps: TimerHandle | undefined;

  constructor(private readonly scheduler: Scheduler) {}

  setLed(colour: LedColour): void {
    this.led = colour;
    this.history.push({ led: colour });
    if (this.history.length > 1000) this.history.shift();
  }

  beep(pattern: BuzzerPattern): void {
    this.lastBeep = pattern;
    this.history.push({ beep: pattern });
    if (this.history.length > 1000) this.history.shift();
    this.scheduler.cancel(this.steps);
    this.play(BUZZER_PATTERNS[pattern], 0);
  }

  async close(): Promise<void> {
    this.scheduler.cancel(this.steps);
    this.steps = undefined;
    this.buzzing = false;
  }

  /** Durations alternate on and off, starting on; silent after the last. */
  private play(durations: readonly number[], index: number): void {
    const duration = durations[index];
    this.buzzing = duration !== undefined && index % 2 === 0;
    this.steps =
      duration === undefined
        ? undefined
        : this.scheduler.after(duration, () => this.play(durations, index + 1));
  }
}
