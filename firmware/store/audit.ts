import { createHash } from 'node:crypto';
import type { Db } from './db.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditRow {
  seq: number;
  at: number;
  type: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

interface RawAuditRow {
  seq: number;
  at: number;
  type: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export type AuditVerification =
  | { ok: true; rows: number }
  | { ok: false; rows: number; firstBrokenSeq: number; problem: string };

/** Each row's hash covers its own fields and the previous row's hash. */
export function auditRowHash(prevHash: string, seq: number, at: number, type: string, data: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${at}\n${type}\n${data}`).digest('hex');
}

function fromRaw(row: RawAuditRow): AuditRow {
  return {
    seq: row.seq,
    at: row.at,
    type: row.type,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * The hash-chained audit log: every decision, code change, mode change, lockout,
 * clock event and jam. Rows carry ids and names, never PINs.
 */
export class AuditLog {
  private readonly last;
  private readonly insert;
  private readonly recent;
  private readonly since;
  private readonly listeners = new Set<(row: AuditRow) => void>();

  constructor(private readonly db: Db) {
    this.last = db.prepare<[], { seq: number; hash: string }>(
      'SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1',
    );
    this.insert = db.prepare(
      'INSERT INTO audit (seq, at, type, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.recent = db.prepare<[number], RawAuditRow>('SELECT * FROM audit ORDER BY seq DESC LIMIT ?');
    this.since = db.prepare<[number, number], RawAuditRow>(
      'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
    );
  }

  /** Appends one row. Call inside the transaction that makes the change it records. */
  append(type: string, data: Record<string, unknown>, at: number): AuditRow {
    const previous = this.last.get();
    const seq = (previous?.seq ?? 0) + 1;
    const prevHash = previous?.hash ?? GENESIS_HASH;
    const text = JSON.stringify(data);
    const hash = auditRowHash(prevHash, seq, at, type, text);
    this.insert.run(seq, at, type, text, prevHash, hash);
    const row: AuditRow = { seq, at, type, data, prevHash, hash };
    // Listeners hear about the row once the surrounding transaction has committed.
    if (this.listeners.size > 0) {
      if (this.db.inTransaction) queueMicrotask(() => this.notify(row));
      else this.notify(row);
    }
    return row;
  }

  onAppend(listener: (row: AuditRow) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The newest `limit` rows, oldest first. */
  latest(limit: number): AuditRow[] {
    return this.recent.all(limit).reverse().map(fromRaw);
  }

  after(seq: number, limit = 1000): AuditRow[] {
    return this.since.all(seq, limit).map(fromRaw);
  }

  lastSeq(): number {
    return this.last.get()?.seq ?? 0;
  }

  /** Walks the whole chain; names the first row whose link or hash does not hold. */
  verify(): AuditVerification {
    const walk = new ChainWalk();
    for (const row of this.db.prepare<[], RawAuditRow>('SELECT * FROM audit ORDER BY seq').iterate()) {
      const broken = walk.check(row);
      if (broken) return broken;
    }
    return { ok: true, rows: walk.rows };
  }

  /**
   * The same walk one page at a time, yielding to the event loop in between, so a long
   * log can be checked from a running lock without delaying a keypad decision.
   */
  async verifyInSlices(pageSize = 500, signal?: AbortSignal): Promise<AuditVerification> {
    const page = this.db.prepare<[number, number], RawAuditRow>(
      'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    const walk = new ChainWalk();
    let last = 0;
    for (;;) {
      signal?.throwIfAborted();
      const rows = page.all(last, pageSize);
      if (rows.length === 0) return { ok: true, rows: walk.rows };
      for (const row of rows) {
        const broken = walk.check(row);
        if (broken) return broken;
        last = row.seq;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private notify(row: AuditRow): void {
    for (const listener of this.listeners) listener(row);
  }
}

/** One pass over the chain in seq order: each row must follow, link to, and hash like its predecessor. */
class ChainWalk {
  rows = 0;
  private prevHash = GENESIS_HASH;
  private expectedSeq = 1;

  check(row: RawAuditRow): AuditVerification | undefined {
    this.rows++;
    const fail = (problem: string): AuditVerification => ({
      ok: false,
      rows: this.rows,
      firstBrokenSeq: row.seq,
      problem,
    });
    if (row.seq !== this.expectedSeq)
      return fail(`expected seq ${this.expectedSeq}, found ${row.seq} (a row is missing)`);
    if (row.prev_hash !== this.prevHash) return fail('prev_hash does not match the previous row');
    if (auditRowHash(row.prev_hash, row.seq, row.at, row.type, row.data) !== row.hash) {
      return fail('row contents do not match its hash (edited)');
    }
    this.prevHash = row.hash;
    this.expectedSeq++;
    return undefined;
  }
}
