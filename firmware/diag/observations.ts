import type { Key } from '../../hal/keypad.ts';
import type { DiagContext } from './context.ts';
import { DriftEstimator } from './drift.ts';

/**
 * What the console watches while it runs, for selftest and `time`: keypad activity
 * and the RTC's drift against the monotonic clock.
 */
export class Observations {
  readonly drift = new DriftEstimator();
  keysSeen = 0;
  lastKeyAt: number | null = null;
  private readonly cleanup: Array<() => void>;

  constructor(private readonly ctx: DiagContext) {
    this.cleanup = [
      ctx.hal.keypad.onKey((key: Key) => this.onKey(key)),
      ctx.firmware.clock.onTrustChange((reading) => {
        // A trusted source set the time: drift is measured from here on.
        if (reading.trusted) this.drift.reset();
      }),
    ];
  }

  /** Takes a first RTC reading so drift has a baseline from the console's start. */
  async sample(): Promise<void> {
    const reading = await this.ctx.hal.rtc.read();
    if (reading.valid) this.drift.observe(reading.epochMs, this.ctx.scheduler.now());
  }

  dispose(): void {
    for (const off of this.cleanup) off();
  }

  private onKey(_key: Key): void {
    this.keysSeen++;
    this.lastKeyAt = this.ctx.scheduler.now();
  }
}
