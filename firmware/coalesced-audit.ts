import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';

/** Refusals anyone can repeat are summarised over this interval. */
export const COALESCE_INTERVAL_MS = 60_000;

export type CoalescedFields = Record<string, string | number | null>;

export interface CoalescedAuditDeps {
  scheduler: Scheduler;
  wallNow: () => number;
  /** Writes one row; a write the storage refuses must not throw (LockManager.note). */
  write: (data: Record<string, unknown>, at: number) => void;
}

/**
 * Audit rows for refusals that whoever reaches an unauthenticated input can repeat
 * (forged MQTT messages, Home Assistant's unsigned `ha/set`): the first after a quiet
 * interval is written at once (`count: 1`, its fields, `first_at`); the ones in the
 * interval after it are counted, and at its end one row gives their `count`, the first
 * one's fields and `first_at`, and the last one's fields as `last_<field>` and
 * `last_at`; and so on while they go on. A flood therefore writes at most two rows in
 * its first interval and one per interval after, and cannot push real events out of
 * the outbox or grow the log.
 */
export class CoalescedAudit {
  private window: TimerHandle | undefined;
  private count = 0;
  private first: { fields: CoalescedFields; at: number } | undefined;
  private last: { fields: CoalescedFields; at: number } | undefined;

  constructor(
    private readonly deps: CoalescedAuditDeps,
    private readonly intervalMs = COALESCE_INTERVAL_MS,
  ) {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new RangeError('intervalMs must be > 0');
  }

  note(fields: CoalescedFields): void {
    const entry = { fields, at: this.deps.wallNow() };
    if (!this.window) {
      this.write(1, entry, entry);
      this.window = this.deps.scheduler.after(this.intervalMs, () => this.endWindow());
      return;
    }
    this.count++;
    this.first ??= entry;
    this.last = entry;
  }

  /** Writes what the open interval counted (on stop, so nothing counted is lost). */
  flush(): void {
    this.deps.scheduler.cancel(this.window);
    this.window = undefined;
    this.writePending();
  }

  private endWindow(): void {
    this.window = undefined;
    if (!this.writePending()) return;
    this.window = this.deps.scheduler.after(this.intervalMs, () => this.endWindow());
  }

  private writePending(): boolean {
    if (this.count === 0 || !this.first || !this.last) return false;
    this.write(this.count, this.first, this.last);
    this.count = 0;
    this.first = undefined;
    this.last = undefined;
    return true;
  }

  private write(
    count: number,
    first: { fields: CoalescedFields; at: number },
    last: { fields: CoalescedFields; at: number },
  ): void {
    const data: Record<string, unknown> = { count, ...first.fields, first_at: iso(first.at) };
    if (count > 1) {
      for (const [key, value] of Object.entries(last.fields)) data[`last_${key}`] = value;
      data.last_at = iso(last.at);
    }
    this.deps.write(data, this.deps.wallNow());
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
