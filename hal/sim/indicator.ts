import type { BuzzerPattern, Indicator, LedColour } from '../indicator.ts';

export interface IndicatorRecord {
  led?: LedColour;
  beep?: BuzzerPattern;
}

/** Simulated LED and buzzer. Test controls: `led`, `lastBeep`, the `history` recording. */
export class SimIndicator implements Indicator {
  led: LedColour = 'off';
  lastBeep: BuzzerPattern | null = null;
  readonly history: IndicatorRecord[] = [];

  setLed(colour: LedColour): void {
    this.led = colour;
    this.history.push({ led: colour });
    if (this.history.length > 1000) this.history.shift();
  }

  beep(pattern: BuzzerPattern): void {
    this.lastBeep = pattern;
    this.history.push({ beep: pattern });
    if (this.history.length > 1000) this.history.shift();
  }

  async close(): Promise<void> {}
}
