export type LedColour = 'off' | 'green' | 'red' | 'amber' | 'blue';
/** Buzzer patterns: a short click per key, one long tone for granted, three short for denied... */
export type BuzzerPattern = 'click' | 'granted' | 'denied' | 'alarm' | 'lockout';

/**
 * Indicator contract (status LED and buzzer).
 * - `setLed` changes the LED at once and holds it until the next call.
 * - `beep` starts a pattern; a new pattern replaces one still playing.
 */
export interface Indicator {
  setLed(colour: LedColour): void;
  beep(pattern: BuzzerPattern): void;
  close(): Promise<void>;
}
