/**
 * What a correction of the clock may do: one rule for every source that sets the
 * time (technician console, gateway time sync, the simulator's control socket).
 * Pure; TrustedClock.setTrusted enforces it and LockManager.setTime audits it.
 *
 * Forward, or backward within the floor tolerance (drift), a trusted source simply
 * sets the time. A move backward beyond the tolerance needs the source to confirm it
 * (`time set ISO --backward`): a typo or a stolen token must not turn the calendar
 * back on its own. Even confirmed, a correction never re-opens anything: the clock
 * keeps a high-water mark (the latest trusted time it has ever seen, which never
 * decreases) and expiry is judged against `expiryTime`, so a code that had expired
 * before the correction stays expired, and use counts and first-use instants stay as
 * they were.
 */

export interface CorrectionRequest {
  /** The instant the source sets (epoch ms). */
  to: number;
  /** The latest trusted time the lock has seen (its high-water mark; 0 before any). */
  highWater: number;
  /** How far back a correction may go without confirmation (clockFloorToleranceSeconds). */
  toleranceMs: number;
  /** The source confirmed a move backward beyond the tolerance. */
  confirmedBackward: boolean;
}

export type CorrectionVerdict =
  /** `stepMs` is `to` minus the high-water mark: negative for a move back. */
  | { ok: true; backward: boolean; stepMs: number }
  | { ok: false; error: 'backward_unconfirmed'; stepMs: number; message: string };

export function judgeClockCorrection(request: CorrectionRequest): CorrectionVerdict {
  const { to, highWater, toleranceMs } = request;
  if (!Number.isFinite(to) || to <= 0) throw new RangeError('to must be a positive finite epoch ms');
  if (!Number.isFinite(highWater) || highWater < 0)
    throw new RangeError('highWater must be a finite epoch ms >= 0');
  if (!Number.isFinite(toleranceMs) || toleranceMs < 0) throw new RangeError('toleranceMs must be >= 0');
  const stepMs = to - highWater;
  const backward = highWater > 0 && stepMs < -toleranceMs;
  if (backward && !request.confirmedBackward) {
    return {
      ok: false,
      error: 'backward_unconfirmed',
      stepMs,
      message: `moves the clock ${Math.ceil(-stepMs / 1000)} s back from the latest trusted time ${new Date(highWater).toISOString()}; confirm a backward correction explicitly`,
    };
  }
  return { ok: true, backward, stepMs };
}

/**
 * The time expiry is judged at: never earlier than the latest trusted time seen, so
 * moving the clock back cannot bring an expired code (or an offline code's end) back.
 */
export function expiryTime(now: number, highWater: number): number {
  return Math.max(now, highWater);
}
