import type { Rtc, RtcReading } from '../rtc.ts';
import type { Scheduler } from '../scheduler.ts';

/** What a DS3231 reads after losing its battery: its reset date. */
export const RTC_RESET_EPOCH_MS = Date.UTC(2000, 0, 1);

/**
 * Simulated RTC that runs on the scheduler's time, so virtual time moves it too.
 * Test controls: `setTime(ms)`, `drift(ppm)`, `loseBattery()`.
 */
export class SimRtc implements Rtc {
  private baseEpochMs: number;
  private baseMonoMs: number;
  private ppm = 0;
  private valid = true;

  constructor(
    private readonly scheduler: Scheduler,
    startEpochMs: number = Date.now(),
    valid = true,
  ) {
    if (!Number.isFinite(startEpochMs)) throw new RangeError('startEpochMs must be a finite number');
    this.baseEpochMs = startEpochMs;
    this.baseMonoMs = scheduler.now();
    this.valid = valid;
  }

  /** Synchronous reading, for the simulator's display and for tests. */
  peek(): RtcReading {
    const elapsed = this.scheduler.now() - this.baseMonoMs;
    return { epochMs: Math.round(this.baseEpochMs + elapsed * (1 + this.ppm / 1e6)), valid: this.valid };
  }

  read(): Promise<RtcReading> {
    const reading = this.peek();
    return new Promise((resolve) => setImmediate(() => resolve(reading)));
  }

  async set(epochMs: number): Promise<void> {
    this.setTime(epochMs);
    this.valid = true;
  }

  /** Test control: moves the RTC to `epochMs` (the validity flag is left as it is). */
  setTime(epochMs: number): void {
    if (!Number.isFinite(epochMs)) throw new RangeError('epochMs must be a finite number');
    this.baseEpochMs = epochMs;
    this.baseMonoMs = this.scheduler.now();
  }

  /** Test control: the RTC runs `ppm` parts per million fast (positive) or slow. */
  drift(ppm: number): void {
    if (!Number.isFinite(ppm) || Math.abs(ppm) > 1e6)
      throw new RangeError('ppm must be a number within ±1e6');
    this.setTime(this.peek().epochMs);
    this.ppm = ppm;
  }

  /** Test control: battery lost; reads the reset date and reports invalid. */
  loseBattery(): void {
    this.setTime(RTC_RESET_EPOCH_MS);
    this.valid = false;
  }

  async close(): Promise<void> {}
}
