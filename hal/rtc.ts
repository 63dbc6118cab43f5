export interface RtcReading {
  /** Wall time in Unix epoch milliseconds. */
  epochMs: number;
  /** False when the RTC lost power (oscillator stopped); `epochMs` is then meaningless. */
  valid: boolean;
}

/**
 * Real-time clock contract.
 * - `read()` resolves on a later tick with the current wall time and validity.
 * - `set(epochMs)` sets the time and clears the lost-power flag.
 * - Resolution may be one second; callers must not assume more.
 */
export interface Rtc {
  read(): Promise<RtcReading>;
  set(epochMs: number): Promise<void>;
  close(): Promise<void>;
}
