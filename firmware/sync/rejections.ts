import { COALESCE_INTERVAL_MS, CoalescedAudit } from '../coalesced-audit.ts';
import type { Firmware } from '../firmware.ts';
import type { Logger } from '../log.ts';

/** Refusals of inbound messages are summarised over this interval. */
export const REJECTION_INTERVAL_MS = COALESCE_INTERVAL_MS;

/**
 * Refused inbound messages (forged, unsigned, malformed, replayed from another life) are
 * audited as `sync_rejected`, but anyone on the broker can send them, so they are
 * coalesced (firmware/coalesced-audit.ts): a flood writes at most one row (and one
 * outbox event) per interval and cannot push real events out of the outbox.
 */
export class RejectionLog {
  private readonly rows: CoalescedAudit;

  constructor(
    firmware: Firmware,
    private readonly log: Logger,
    intervalMs = REJECTION_INTERVAL_MS,
  ) {
    const { manager } = firmware;
    this.rows = new CoalescedAudit(
      {
        scheduler: firmware.scheduler,
        wallNow: () => manager.wallNow(),
        write: (data, at) => {
          if (!firmware.db.open) return;
          this.log.warn('inbound messages refused', {
            count: data.count,
            topic: data.topic,
            error: data.error,
            message: data.message,
            ...(data.count !== 1 ? { last_topic: data.last_topic, last_error: data.last_error } : {}),
          });
          try {
            manager.note('sync_rejected', data, at);
          } catch (error) {
            // Runs from a timer and at stop: a store that changed under us is not fatal here.
            this.log.warn('refusals not written', { error: (error as Error).message });
          }
        },
      },
      intervalMs,
    );
  }

  note(topic: string, error: string, message: string): void {
    this.rows.note({ topic, error, message });
  }

  /** Writes what the open interval counted (on stop, so nothing counted is lost). */
  flush(): void {
    this.rows.flush();
  }
}
