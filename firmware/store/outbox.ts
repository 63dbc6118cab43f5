import type { Db } from './db.ts';

/** An audit row waiting to reach the gateway. */
export interface OutboxEvent {
  seq: number;
  /** The boot that wrote the row ('unknown' for a row written before the boot was known). */
  bootId: string;
  at: number;
  type: string;
  /** The row's data as stored: JSON text, put into the signed event as it is. */
  dataJson: string;
  /** The audit row's chain hash and its predecessor's (events carry both). */
  hash: string;
  prevHash: string;
}

interface Row {
  seq: number;
  boot_id: string | null;
  at: number;
  type: string;
  data: string;
  hash: string;
  prev_hash: string;
}

/**
 * The event outbox is the audit log's unacknowledged tail: the rows after
 * audit_chain.acked_seq (migration 9). Nothing is copied when a row is written, so an
 * event is queued by the same commit that writes it; a cumulative ack moves the one
 * number, and so does the bound (the oldest events dropped, reported by an
 * `outbox_overflow` event). Retention keeps the rows after it (firmware/store/retention.ts).
 */
export class Outbox {
  private readonly pendingStmt;
  private readonly ackStmt;
  private readonly anchorsStmt;

  constructor(private readonly db: Db) {
    this.pendingStmt = db.prepare<[number, number], Row>(
      `SELECT seq, boot_id, at, type, data, hash, prev_hash FROM audit
       WHERE seq > MAX(?, (SELECT acked_seq FROM audit_chain WHERE id = 1)) ORDER BY seq LIMIT ?`,
    );
    this.ackStmt = db.prepare<[number, number]>(
      'UPDATE audit_chain SET acked_seq = ? WHERE id = 1 AND acked_seq < ?',
    );
    this.anchorsStmt = db.prepare<[], { head: number; checkpoint: number; acked: number }>(
      'SELECT head_seq AS head, checkpoint_seq AS checkpoint, acked_seq AS acked FROM audit_chain WHERE id = 1',
    );
  }

  /** Queued events after `afterSeq`, oldest first: one page of the tail. */
  pending(afterSeq: number, limit: number): OutboxEvent[] {
    return this.pendingStmt.all(afterSeq, limit).map((row) => ({
      seq: row.seq,
      bootId: row.boot_id ?? 'unknown',
      at: row.at,
      type: row.type,
      dataJson: row.data,
      hash: row.hash,
      prevHash: row.prev_hash,
    }));
  }

  /** Every event up to here was acknowledged (or dropped on overflow). */
  ackedSeq(): number {
    return this.anchors().acked;
  }

  /** Cumulative acknowledgement: every event up to `seq` has reached the gateway. True when it moved. */
  ack(seq: number): boolean {
    return this.ackStmt.run(seq, seq).changes > 0;
  }

  /** Events queued: the rows after the ack still held (the tail has no gaps). */
  depth(): number {
    const { head, checkpoint, acked } = this.anchors();
    return Math.max(0, head - Math.max(acked, checkpoint));
  }

  /**
   * Drops the oldest events beyond `max` (days offline with a busy door) by moving the
   * ack past them; the audit rows stay for retention. Returns the dropped range so the
   * caller can record an `outbox_overflow` event.
   */
  enforceBound(max: number): { dropped: number; firstSeq: number; lastSeq: number } | undefined {
    return this.db
      .transaction(() => {
        const { head, checkpoint, acked } = this.anchors();
        const start = Math.max(acked, checkpoint);
        const excess = head - start - max;
        if (excess <= 0) return undefined;
        const lastSeq = start + excess;
        this.ack(lastSeq);
        return { dropped: excess, firstSeq: start + 1, lastSeq };
      })
      .immediate();
  }

  private anchors(): { head: number; checkpoint: number; acked: number } {
    const row = this.anchorsStmt.get();
    if (!row) throw new Error('audit_chain row is missing (migration 6 not applied)');
    return row;
  }
}
