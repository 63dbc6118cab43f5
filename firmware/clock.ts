import type { Rtc } from '../hal/rtc.ts';
import { type CorrectionVerdict, judgeClockCorrection } from './access/clock-correction.ts';
import type { StateStore } from './store/state.ts';

export type UntrustedReason = 'rtc_lost_power' | 'rtc_behind_floor';
export type TrustSource = 'technician' | 'gateway' | 'provisioning' | 'local_admin';

export interface ClockRecord {
  /** The latest wall time the lock has seen from a trusted clock. */
  floor: number;
  /**
   * The latest trusted time ever seen: never decreases, not even when a confirmed
   * correction moves the floor back. Expiry is judged at no earlier time.
   */
  highWater: number;
  untrusted: UntrustedReason | null;
  lastSyncAt: number | null;
  lastSyncSource: TrustSource | null;
}

export interface ClockReading {
  epochMs: number;
  trusted: boolean;
  untrustedReason: UntrustedReason | null;
  /** The persisted time floor: the latest time seen from a trusted clock (0 before any). */
  floor: number;
  /** The latest trusted time ever seen, never decreasing (ClockRecord.highWater). */
  highWater: number;
}

export interface ClockPolicy {
  /** How far behind the floor the RTC may read before it is distrusted (small drift, resets). */
  floorToleranceMs: number;
}

const KEY = 'clock';
const INITIAL: ClockRecord = {
  floor: 0,
  highWater: 0,
  untrusted: null,
  lastSyncAt: null,
  lastSyncSource: null,
};

/**
 * Trusted time. Wall time comes from the RTC; the clock judges whether to believe it:
 * untrusted when the RTC lost power, or reads earlier than the persisted floor by more
 * than the tolerance. Once untrusted it stays so (across reboots) until a trusted
 * source sets the time; the floor never moves while untrusted.
 */
export class TrustedClock {
  private record: ClockRecord;
  private savedFloor: number;
  private readonly transitions = new Set<(reading: ClockReading, previous: ClockRecord) => void>();

  constructor(
    private readonly rtc: Rtc,
    private readonly state: StateStore,
    private readonly policy: ClockPolicy,
    /**
     * The floor the newest audit row carries (AuditLog.lastClockFloor): every event saves
     * the floor in its own row, so the state record is written only when trust changes,
     * the time is set, and every 10 minutes.
     */
    auditFloor?: number,
  ) {
    const stored = state.get(KEY, INITIAL);
    this.savedFloor = stored.floor;
    // Rows written after the record was saved moved the floor on. A confirmed move back is
    // saved in the record and carried by the rows after it; were none written, the older,
    // higher floor wins and the clock reads untrusted (fail closed).
    const floor = Math.max(stored.floor, auditFloor ?? 0);
    // A record saved before the high-water mark existed: its floor is the best we know.
    this.record = { ...stored, floor, highWater: Math.max(stored.highWater, floor) };
  }

  /** The floor now (audit rows carry it: firmware/store/audit.ts stamp). */
  get floor(): number {
    return this.record.floor;
  }

  /** Reads the RTC and judges it. A change of trust is persisted and reported. */
  async now(): Promise<ClockReading> {
    const reading = await this.rtc.read();
    let reason: UntrustedReason | null = this.record.untrusted;
    if (!reading.valid) reason = 'rtc_lost_power';
    else if (reading.epochMs < this.record.floor - this.policy.floorToleranceMs)
      reason ??= 'rtc_behind_floor';
    if (reason !== this.record.untrusted) {
      const previous = { ...this.record };
      this.record = { ...this.record, untrusted: reason };
      this.state.set(KEY, this.record);
      this.notify(
        {
          epochMs: reading.epochMs,
          trusted: reason === null,
          untrustedReason: reason,
          floor: this.record.floor,
          highWater: this.record.highWater,
        },
        previous,
      );
    }
    if (reason === null && reading.epochMs > this.record.floor) {
      this.record.floor = reading.epochMs;
      this.record.highWater = Math.max(this.record.highWater, reading.epochMs);
    }
    return {
      epochMs: reading.epochMs,
      trusted: reason === null,
      untrustedReason: reason,
      floor: this.record.floor,
      highWater: this.record.highWater,
    };
  }

  /**
   * Sets the RTC from a trusted source and trusts the clock again; the floor follows.
   * A move back beyond the floor tolerance is refused (a value, nothing changes)
   * unless `confirmedBackward` (firmware/access/clock-correction.ts); the high-water
   * mark never moves back. Call through LockManager.setTime, which audits it.
   */
  async setTrusted(
    epochMs: number,
    source: TrustSource,
    options: { confirmedBackward?: boolean } = {},
  ): Promise<CorrectionVerdict> {
    if (!Number.isFinite(epochMs) || epochMs <= 0)
      throw new RangeError('epochMs must be a positive finite number');
    const verdict = judgeClockCorrection({
      to: epochMs,
      highWater: this.record.highWater,
      toleranceMs: this.policy.floorToleranceMs,
      confirmedBackward: options.confirmedBackward === true,
    });
    if (!verdict.ok) return verdict;
    await this.rtc.set(epochMs);
    const previous = { ...this.record };
    const highWater = Math.max(previous.highWater, epochMs);
    this.record = { floor: epochMs, highWater, untrusted: null, lastSyncAt: epochMs, lastSyncSource: source };
    this.state.set(KEY, this.record);
    this.savedFloor = epochMs;
    this.notify({ epochMs, trusted: true, untrustedReason: null, floor: epochMs, highWater }, previous);
    return verdict;
  }

  /** Writes the floor to the state record if it moved (every 10 minutes and at shutdown). */
  persistFloor(): void {
    if (this.record.floor === this.savedFloor) return;
    this.state.set(KEY, this.record);
    this.savedFloor = this.record.floor;
  }

  snapshot(): ClockRecord {
    return { ...this.record };
  }

  onTrustChange(listener: (reading: ClockReading, previous: ClockRecord) => void): () => void {
    this.transitions.add(listener);
    return () => this.transitions.delete(listener);
  }

  private notify(reading: ClockReading, previous: ClockRecord): void {
    for (const listener of this.transitions) listener(reading, previous);
  }
}

const UNTRUSTED_REASONS: readonly string[] = ['rtc_lost_power', 'rtc_behind_floor'];
const instantOrNull = (value: unknown) =>
  value === null || (typeof value === 'number' && Number.isFinite(value));

/** The persisted clock record's parser (firmware/store/state-keys.ts); fields added later may be absent. */
export function parseClockRecord(value: unknown): Partial<ClockRecord> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.floor !== 'number' || !Number.isFinite(v.floor) || v.floor < 0) return undefined;
  if ('highWater' in v && (typeof v.highWater !== 'number' || !Number.isFinite(v.highWater)))
    return undefined;
  if (v.untrusted !== null && !UNTRUSTED_REASONS.includes(v.untrusted as string)) return undefined;
  if (!instantOrNull(v.lastSyncAt)) return undefined;
  if (v.lastSyncSource !== null && typeof v.lastSyncSource !== 'string') return undefined;
  return v as Partial<ClockRecord>;
}
