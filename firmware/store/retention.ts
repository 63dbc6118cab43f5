import type { Scheduler, TimerHandle } from '../../hal/scheduler.ts';
import type { Logger } from '../log.ts';
import type { AuditLog } from './audit.ts';
import type { Db } from './db.ts';

/** Rows deleted per transaction: short enough never to hold up a keypad decision. */
export const PRUNE_BATCH_ROWS = 500;
/** Pruning runs this long after an append (and between batches), never in a commit. */
export const PRUNE_DELAY_MS = 1000;

export interface RetentionPolicy {
  /** The newest rows always kept (config `auditKeepRows`). */
  keepRows: number;
  /**
   * Keep every row the gateway has not acknowledged (the outbox: the rows after the
   * ack, firmware/store/outbox.ts). False for a lock with no gateway configured: nobody
   * will acknowledge, so its queued rows are pruned like any other.
   */
  keepUnacknowledged: boolean;
}

/**
 * The audit log's retention: the newest `keepRows` rows and everything still waiting
 * for the gateway stay; older rows are deleted oldest first, in batches, and the last
 * deleted row becomes the chain's checkpoint (verification starts there). Deleted
 * rows' pages are reused by SQLite, so a keypad flood cannot grow the file without bound.
 */
export class AuditRetention {
  private timer: TimerHandle | undefined;
  private off: (() => void) | undefined;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly policy: RetentionPolicy,
  ) {
    if (!Number.isSafeInteger(policy.keepRows) || policy.keepRows < 1)
      throw new RangeError('policy.keepRows must be a positive integer');
  }

  /** The newest seq that may be deleted now (0: nothing to prune). */
  prunableThrough(): number {
    const { head, checkpoint, acked } = this.audit.chainState();
    let upTo = head.seq - this.policy.keepRows;
    if (this.policy.keepUnacknowledged) upTo = Math.min(upTo, acked);
    return upTo > checkpoint.seq ? upTo : 0;
  }

  /** Deletes at most `batchRows` of the prunable rows in one transaction; returns how many. */
  pruneBatch(batchRows = PRUNE_BATCH_ROWS): number {
    const upTo = this.prunableThrough();
    if (upTo === 0) return 0;
    const through = Math.min(upTo, this.audit.chainState().checkpoint.seq + batchRows);
    return this.audit.pruneThrough(through);
  }

  /**
   * Prunes on `scheduler` after appends: one batch per timer, again while more is
   * prunable. A failed prune (full disk) is logged and tried after the next append.
   */
  start(scheduler: Scheduler, log: Logger): () => void {
    const run = () => {
      this.timer = undefined;
      if (!this.db.open) return;
      try {
        const deleted = this.pruneBatch();
        if (deleted > 0) {
          log.debug('audit pruned', {
            rows: deleted,
            checkpoint_seq: this.audit.chainState().checkpoint.seq,
          });
          if (this.prunableThrough() > 0) schedule();
        }
      } catch (error) {
        log.warn('audit prune failed', { error: (error as Error).message });
      }
    };
    const schedule = () => {
      this.timer ??= scheduler.after(PRUNE_DELAY_MS, run);
    };
    this.off = this.audit.onAppend(schedule);
    schedule();
    return () => {
      this.off?.();
      scheduler.cancel(this.timer);
      this.timer = undefined;
    };
  }
}
