import type { Db } from './db.ts';

/** An audit row waiting to reach the gateway. */
export interface OutboxEvent {
  seq: number;
  bootId: string;
  at: number;
  type: string;
  data: Record<string, unknown>;
  /** The audit row's chain hash and its predecessor's (events carry both). */
  hash: string;
  prevHash: string;
}

interface Row {
  seq: number;
  boot_id: string;
  at: number;
  type: string;
  data: string;
  hash: string;
  prev_hash: string;
}

/**
 * The event outbox: audit rows the gateway has not acknowledged, filled by a trigger in
 * the same transaction as the audit row. Rows leave only on a cumulative ack, or when
 * the bound is hit (oldest first, reported by an `outbox_overflow` event).
 */
export class Outbox {
  private readonly pendingStmt;
  private readonly ackStmt;
  private readonly depthStmt;

  constructor(private readonly db: Db) {
    this.pendingStmt = db.prepare<[number, number], Row>(
      `SELECT o.seq, o.boot_id, a.at, a.type, a.data, a.hash, a.prev_hash FROM outbox o JOIN audit a ON a.seq = o.seq
       WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
    );
    this.ackStmt = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ?');
    this.depthStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox');
  }

  /** Queued events after `afterSeq`, oldest first. */
  pending(afterSeq: number, limit: number): OutboxEvent[] {
    return this.pendingStmt.all(afterSeq, limit).map((row) => ({
      seq: row.seq,
      bootId: row.boot_id,
      at: row.at,
      type: row.type,
      data: JSON.parse(row.data) as Record<string, unknown>,
      hash: row.hash,
      prevHash: row.prev_hash,
    }));
  }

  /** Cumulative acknowledgement: every event up to `seq` has reached the gateway. */
  ack(seq: number): number {
    return this.ackStmt.run(seq).changes;
  }

  depth(): number {
    return this.depthStmt.get()!.n;
  }

  /**
   * Drops the oldest events beyond `max` (days offline with a busy door). Returns the
   * dropped range so the caller can record an `outbox_overflow` event.
   */
  enforceBound(max: number): { dropped: number; firstSeq: number; lastSeq: number } | undefined {
    const depth = this.depth();
    if (depth <= max) return undefined;
    const excess = depth - max;
    const range = this.db
      .prepare<[number], { first: number; last: number }>(
        'SELECT MIN(seq) AS first, MAX(seq) AS last FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)',
      )
      .get(excess)!;
    this.db.prepare('DELETE FROM outbox WHERE seq <= ?').run(range.last);
    return { dropped: excess, firstSeq: range.first, lastSeq: range.last };
  }
}
