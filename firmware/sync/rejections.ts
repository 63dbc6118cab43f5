import type { TimerHandle } from '../../hal/scheduler.ts';
import type { Firmware } from '../firmware.ts';
import type { Logger } from '../log.ts';

/** Refusals of inbound messages are summarised over this interval. */
export const REJECTION_INTERVAL_MS = 60_000;

interface Rejection {
  topic: string;
  error: string;
  message: string;
  at: string;
}

/**
 * Refused inbound messages (forged, unsigned, malformed, replayed from another life) are
 * audited as `sync_rejected`, but anyone on the broker can send them, so they are
 * coalesced: the first refusal after a quiet interval is recorded at once (count 1);
 * the ones after it are counted, and at the end of each interval that saw any, one row
 * says how many, with the first and last. A flood therefore writes at most one row (and
 * one outbox event) per interval and cannot push real events out of the outbox.
 */
export class RejectionLog {
  private window: TimerHandle | undefined;
  private count = 0;
  private first: Rejection | undefined;
  private last: Rejection | undefined;

  constructor(
    private readonly firmware: Firmware,
    private readonly log: Logger,
    private readonly intervalMs = REJECTION_INTERVAL_MS,
  ) {}

  note(topic: string, error: string, message: string): void {
    const rejection = { topic, error, message, at: new Date(this.firmware.manager.wallNow()).toISOString() };
    if (!this.window) {
      this.write(1, rejection, rejection);
      this.window = this.firmware.scheduler.after(this.intervalMs, () => this.endWindow());
      return;
    }
    this.count++;
    this.first ??= rejection;
    this.last = rejection;
  }

  /** Writes what the open interval counted (on stop, so nothing counted is lost). */
  flush(): void {
    this.firmware.scheduler.cancel(this.window);
    this.window = undefined;
    this.writePending();
  }

  private endWindow(): void {
    this.window = undefined;
    if (!this.writePending()) return;
    this.window = this.firmware.scheduler.after(this.intervalMs, () => this.endWindow());
  }

  private writePending(): boolean {
    if (this.count === 0 || !this.first || !this.last) return false;
    this.write(this.count, this.first, this.last);
    this.count = 0;
    this.first = undefined;
    this.last = undefined;
    return true;
  }

  private write(count: number, first: Rejection, last: Rejection): void {
    if (!this.firmware.db.open) return;
    this.log.warn('inbound messages refused', {
      count,
      topic: first.topic,
      error: first.error,
      message: first.message,
      ...(count > 1 ? { last_topic: last.topic, last_error: last.error } : {}),
    });
    this.firmware.manager.record(
      'sync_rejected',
      {
        count,
        topic: first.topic,
        error: first.error,
        message: first.message,
        first_at: first.at,
        ...(count > 1
          ? { last_topic: last.topic, last_error: last.error, last_message: last.message, last_at: last.at }
          : {}),
      },
      this.firmware.manager.wallNow(),
    );
  }
}
