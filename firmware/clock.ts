import type { Rtc } from '../hal/rtc.ts';
import type { StateStore } from './store/state.ts';

export type UntrustedReason = 'rtc_lost_power' | 'rtc_behind_floor';
export type TrustSource = 'technician' | 'gateway' | 'provisioning' | 'local_admin';

export interface ClockRecord {
  /** The latest wall time the lock has seen from a trusted clock. */
  floor: number;
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
}

export interface ClockPolicy {
  /** How far behind the floor the RTC may read before it is distrusted (small drift, resets). */
  floorToleranceMs: number;
}

const KEY = 'clock';
const INITIAL: ClockRecord = { floor: 0, untrusted: null, lastSyncAt: null, lastSyncSource: null };

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
  ) {
    this.record = state.get(KEY, INITIAL);
    this.savedFloor = this.record.floor;
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
        },
        previous,
      );
    }
    if (reason === null && reading.epochMs > this.record.floor) this.record.floor = reading.epochMs;
    return {
      epochMs: reading.epochMs,
      trusted: reason === null,
      untrustedReason: reason,
      floor: this.record.floor,
    };
  }

  /** Sets the RTC from a trusted source and trusts the clock again; the floor follows. */
  async setTrusted(epochMs: number, source: TrustSource): Promise<void> {
    if (!Number.isFinite(epochMs) || epochMs <= 0)
      throw new RangeError('epochMs must be a positive finite number');
    await this.rtc.set(epochMs);
    const previous = { ...this.record };
    this.record = { floor: epochMs, untrusted: null, lastSyncAt: epochMs, lastSyncSource: source };
    this.state.set(KEY, this.record);
    this.savedFloor = epochMs;
    this.notify({ epochMs, trusted: true, untrustedReason: null, floor: epochMs }, previous);
  }

  /** Writes the floor if it moved; call inside the transaction that records an event. */
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
