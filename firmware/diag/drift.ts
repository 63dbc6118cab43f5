/** Shortest observation the console reports a drift for. */
export const DRIFT_MIN_SPAN_MS = 3_600_000;
/** A rate beyond this is not drift but someone setting the RTC: start over. */
const STEP_PPM = 5_000;

export type DriftEstimate =
  | { ok: true; ppm: number; spanMs: number; uncertaintyPpm: number }
  | { ok: false; spanMs: number; reason: 'too_early' };

/**
 * Estimates how fast the RTC runs against the monotonic clock: the two readings at
 * the start of the observation and now. RTCs may resolve one second only, so the
 * estimate carries that uncertainty and is withheld for the first hour.
 */
export class DriftEstimator {
  private base: { rtc: number; mono: number } | undefined;

  /** Forgets the baseline: the RTC was set (technician, gateway). */
  reset(): void {
    this.base = undefined;
  }

  observe(rtcMs: number, monoMs: number): DriftEstimate {
    if (!Number.isFinite(rtcMs)) throw new RangeError('rtcMs must be a finite number');
    if (!Number.isFinite(monoMs)) throw new RangeError('monoMs must be a finite number');
    if (!this.base) this.base = { rtc: rtcMs, mono: monoMs };
    const spanMs = monoMs - this.base.mono;
    const ppm = spanMs > 0 ? ((rtcMs - this.base.rtc - spanMs) / spanMs) * 1e6 : 0;
    if (spanMs <= 0 || Math.abs(ppm) > STEP_PPM) {
      this.base = { rtc: rtcMs, mono: monoMs };
      return { ok: false, spanMs: 0, reason: 'too_early' };
    }
    if (spanMs < DRIFT_MIN_SPAN_MS) return { ok: false, spanMs, reason: 'too_early' };
    return { ok: true, ppm, spanMs, uncertaintyPpm: (1000 / spanMs) * 1e6 };
  }
}
