import { createHash, createHmac } from 'node:crypto';
import type { Db } from './db.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditRow {
  seq: number;
  at: number;
  type: string;
  data: Record<string, unknown>;
  /** The previous row's `hash` (GENESIS_HASH for row 1). */
  prevHash: string;
  /** HMAC-SHA256 of this row's fields and `prevHash` under the device's audit key (auditRowHash). */
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

/** A point in the chain: a row's seq and hash. */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

export interface AuditChainState {
  /** False only for a log written before the chain was keyed, until `upgradeLegacyChain`. */
  keyed: boolean;
  /** The newest row, written with every append: a shorter log than this was truncated. */
  head: AuditAnchor;
  /** The last pruned row (seq 0 and GENESIS_HASH before any pruning): verification starts here. */
  checkpoint: AuditAnchor;
  /**
   * The outbox's start (firmware/store/outbox.ts): every row up to it was acknowledged by
   * the gateway or dropped on overflow; the rows after it are the events still queued.
   */
  acked: number;
}

export type AuditVerification =
  | { ok: true; rows: number; checkpointSeq: number; headSeq: number }
  | { ok: false; rows: number; firstBrokenSeq: number; problem: string };

function hashInput(prevHash: string, seq: number, at: number, type: string, data: string): string {
  return `${prevHash}\n${seq}\n${at}\n${type}\n${data}`;
}

/**
 * Each row's hash: HMAC-SHA256, under the audit key derived from the device secret,
 * of its own fields and the previous row's hash. Without the key nobody can edit a row
 * and recompute the chain after it.
 */
export function auditRowHash(
  key: Uint8Array,
  prevHash: string,
  seq: number,
  at: number,
  type: string,
  data: string,
): string {
  return createHmac('sha256', key)
    .update(hashInput(prevHash, seq, at, type, data))
    .digest('hex');
}

/** The unkeyed SHA-256 of logs written before the chain was keyed (read once, to re-chain them). */
function legacyRowHash(prevHash: string, seq: number, at: number, type: string, data: string): string {
  return createHash('sha256')
    .update(hashInput(prevHash, seq, at, type, data))
    .digest('hex');
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

interface RawChain {
  keyed: number;
  head_seq: number;
  head_hash: string;
  checkpoint_seq: number;
  checkpoint_hash: string;
  acked_seq: number;
}

/** What every row carries besides its hashed content (migration 9). */
export interface AuditStamp {
  /** The boot that writes the rows (events carry it as `boot_id`). */
  bootId: string;
  /** The clock floor now (firmware/clock.ts): read back from the newest row at start. */
  clockFloor: () => number;
}

/**
 * The hash-chained audit log: every decision, code change, mode change, lockout,
 * clock event and jam. Rows carry ids and names, never PINs. The chain is keyed
 * (auditRowHash) and anchored at both ends in the audit_chain table (migration 6):
 * the head moves with every append (a trigger, same transaction), the checkpoint with
 * every prune (firmware/store/retention.ts). The head stays a separate anchor rather
 * than being read off the newest row: only a copy outside the rows shows rows deleted
 * from the end, and it costs about 1% of a commit (docs/reliability.md, What a decision commits).
 * Each row also carries its boot id and the clock floor (stamp), outside the hash.
 */
export class AuditLog {
  private readonly chain;
  private readonly headStmt;
  private readonly insert;
  private readonly recent;
  private readonly since;
  private readonly hashOf;
  private readonly tailFloor;
  private readonly listeners = new Set<(row: AuditRow) => void>();
  private stamping: AuditStamp | undefined;

  constructor(
    private readonly db: Db,
    private readonly key: Uint8Array,
  ) {
    if (!(key instanceof Uint8Array) || key.length !== 32) throw new TypeError('key must be 32 bytes');
    this.chain = db.prepare<[], RawChain>(
      'SELECT keyed, head_seq, head_hash, checkpoint_seq, checkpoint_hash, acked_seq FROM audit_chain WHERE id = 1',
    );
    this.headStmt = db.prepare<[], Pick<RawChain, 'keyed' | 'head_seq' | 'head_hash'>>(
      'SELECT keyed, head_seq, head_hash FROM audit_chain WHERE id = 1',
    );
    this.insert = db.prepare(
      'INSERT INTO audit (seq, at, type, data, prev_hash, hash, boot_id, clock_floor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.tailFloor = db.prepare<[], { clock_floor: number }>(
      'SELECT clock_floor FROM audit WHERE clock_floor IS NOT NULL ORDER BY seq DESC LIMIT 1',
    );
    this.recent = db.prepare<[number], RawAuditRow>('SELECT * FROM audit ORDER BY seq DESC LIMIT ?');
    this.since = db.prepare<[number, number], RawAuditRow>(
      'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    this.hashOf = db.prepare<[number], { hash: string }>('SELECT hash FROM audit WHERE seq = ?');
  }

  /** Appends one row. Call inside the transaction that makes the change it records. */
  append(type: string, data: Record<string, unknown>, at: number): AuditRow {
    const head = this.headStmt.get();
    if (!head) throw new Error('audit_chain row is missing (migration 6 not applied)');
    if (head.keyed !== 1) throw new Error('the audit chain is unkeyed: call upgradeLegacyChain first');
    const seq = head.head_seq + 1;
    const prevHash = head.head_hash;
    const text = JSON.stringify(data);
    const hash = auditRowHash(this.key, prevHash, seq, at, type, text);
    const stamp = this.stamping;
    this.insert.run(seq, at, type, text, prevHash, hash, stamp?.bootId ?? null, stamp?.clockFloor() ?? null);
    const row: AuditRow = { seq, at, type, data, prevHash, hash };
    // Listeners hear about the row once the surrounding transaction has committed, and
    // not at all when it rolled back (a commit that failed on a full disk).
    if (this.listeners.size > 0) {
      if (this.db.inTransaction) queueMicrotask(() => this.committed(row) && this.notify(row));
      else this.notify(row);
    }
    return row;
  }

  /** From now on every row carries this boot's id and the clock floor (firmware start). */
  stamp(stamp: AuditStamp): void {
    this.stamping = stamp;
  }

  /** The clock floor the newest stamped row carries (undefined before any): the saved floor. */
  lastClockFloor(): number | undefined {
    return this.tailFloor.get()?.clock_floor;
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
    return this.chainState().head.seq;
  }

  chainState(): AuditChainState {
    const row = this.chain.get();
    if (!row) throw new Error('audit_chain row is missing (migration 6 not applied)');
    return {
      keyed: row.keyed === 1,
      head: { seq: row.head_seq, hash: row.head_hash },
      checkpoint: { seq: row.checkpoint_seq, hash: row.checkpoint_hash },
      acked: row.acked_seq,
    };
  }

  /**
   * A log written before the chain was keyed is checked with the old unkeyed hash,
   * re-chained with the key in one transaction, and the outcome recorded in an
   * `audit_rechained` row (a legacy chain that was already broken says where, and its
   * gaps stay visible). Does nothing on a keyed chain; returns the recorded row.
   */
  upgradeLegacyChain(at: number): AuditRow | undefined {
    // Checked first without a write lock: a keyed store (all but once) takes none.
    if (this.chainState().keyed) return undefined;
    return this.db
      .transaction((): AuditRow | undefined => {
        if (this.chainState().keyed) return undefined;
        const rows = this.db.prepare<[], RawAuditRow>('SELECT * FROM audit ORDER BY seq').all();
        const legacy = new ChainWalk(null, { seq: 0, hash: GENESIS_HASH });
        let broken: AuditVerification | undefined;
        for (const row of rows) {
          broken ??= legacy.check(row);
        }
        const update = this.db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?');
        let head: AuditAnchor = { seq: 0, hash: GENESIS_HASH };
        for (const row of rows) {
          const hash = auditRowHash(this.key, head.hash, row.seq, row.at, row.type, row.data);
          update.run(head.hash, hash, row.seq);
          head = { seq: row.seq, hash };
        }
        this.db
          .prepare('UPDATE audit_chain SET keyed = 1, head_seq = ?, head_hash = ? WHERE id = 1')
          .run(head.seq, head.hash);
        return this.append(
          'audit_rechained',
          {
            rows: rows.length,
            legacy_chain:
              broken && !broken.ok ? `broken at row ${broken.firstBrokenSeq}: ${broken.problem}` : 'intact',
          },
          at,
        );
      })
      .immediate();
  }

  /**
   * Deletes every row up to `seq` and makes the last of them the checkpoint, in one
   * transaction; the caller (firmware/store/retention.ts) decides what may go.
   */
  pruneThrough(seq: number): number {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError('seq must be a positive integer');
    return this.db
      .transaction((): number => {
        const { head } = this.chainState();
        if (seq >= head.seq) throw new RangeError(`seq ${seq} must be below the head (${head.seq})`);
        const last = this.db
          .prepare<[number], { hash: string }>('SELECT hash FROM audit WHERE seq = ?')
          .get(seq);
        if (!last) throw new RangeError(`audit row ${seq} does not exist`);
        const deleted = this.db.prepare('DELETE FROM audit WHERE seq <= ?').run(seq).changes;
        this.db
          .prepare('UPDATE audit_chain SET checkpoint_seq = ?, checkpoint_hash = ? WHERE id = 1')
          .run(seq, last.hash);
        return deleted;
      })
      .immediate();
  }

  /**
   * Walks the chain from the checkpoint to the head; names the first row whose link or
   * hash does not hold, or where the log stops short of (or runs past) its head.
   */
  verify(): AuditVerification {
    return this.db
      .transaction((): AuditVerification => {
        const chain = this.chainState();
        const walk = new ChainWalk(chain.keyed ? this.key : null, chain.checkpoint);
        for (const row of this.db
          .prepare<[number], RawAuditRow>('SELECT * FROM audit WHERE seq > ? ORDER BY seq')
          .iterate(0)) {
          const broken = walk.check(row);
          if (broken) return broken;
        }
        return walk.finish(chain);
      })
      .deferred();
  }

  /**
   * The same walk one page at a time, yielding to the event loop in between, so a long
   * log can be checked from a running lock without delaying a keypad decision. Rows
   * appended meanwhile are walked too; rows pruned meanwhile move the start.
   */
  async verifyInSlices(pageSize = 500, signal?: AbortSignal): Promise<AuditVerification> {
    const page = this.db.prepare<[number, number], RawAuditRow>(
      'SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?',
    );
    const start = this.chainState();
    const walk = new ChainWalk(start.keyed ? this.key : null, start.checkpoint);
    let last = 0;
    for (;;) {
      signal?.throwIfAborted();
      // One read transaction per page: the last page and the head anchor agree.
      const slice = this.db
        .transaction(() => ({ rows: page.all(last, pageSize), chain: this.chainState() }))
        .deferred();
      if (slice.rows.length === 0) return walk.finish(slice.chain);
      for (const row of slice.rows) {
        walk.resyncAfterPrune(row, slice.chain.checkpoint);
        const broken = walk.check(row);
        if (broken) return broken;
        last = row.seq;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private committed(row: AuditRow): boolean {
    return this.db.open && this.hashOf.get(row.seq)?.hash === row.hash;
  }

  private notify(row: AuditRow): void {
    for (const listener of this.listeners) listener(row);
  }
}

/**
 * One pass over the chain in seq order from an anchor: each row must follow, link to,
 * and hash like its predecessor, and the last must be the head. `key` null: the
 * unkeyed legacy hash.
 */
class ChainWalk {
  rows = 0;
  private prev: AuditAnchor;

  constructor(
    private readonly key: Uint8Array | null,
    private readonly start: AuditAnchor,
  ) {
    this.prev = start;
  }

  check(row: RawAuditRow): AuditVerification | undefined {
    this.rows++;
    const fail = (problem: string): AuditVerification => ({
      ok: false,
      rows: this.rows,
      firstBrokenSeq: row.seq,
      problem,
    });
    const expected = this.prev.seq + 1;
    if (row.seq !== expected) return fail(`expected seq ${expected}, found ${row.seq} (a row is missing)`);
    if (row.prev_hash !== this.prev.hash) return fail('prev_hash does not match the previous row');
    const hash = this.key
      ? auditRowHash(this.key, row.prev_hash, row.seq, row.at, row.type, row.data)
      : legacyRowHash(row.prev_hash, row.seq, row.at, row.type, row.data);
    if (hash !== row.hash) return fail('row contents do not match its hash (edited)');
    this.prev = { seq: row.seq, hash: row.hash };
    return undefined;
  }

  /** Rows pruned while a sliced walk was paused: carry on from the new checkpoint. */
  resyncAfterPrune(row: RawAuditRow, checkpoint: AuditAnchor): void {
    if (row.seq > this.prev.seq + 1 && checkpoint.seq === row.seq - 1 && checkpoint.seq > this.prev.seq)
      this.prev = checkpoint;
  }

  finish(chain: AuditChainState): AuditVerification {
    const { head } = chain;
    const fail = (problem: string): AuditVerification => ({
      ok: false,
      rows: this.rows,
      firstBrokenSeq: Math.min(this.prev.seq, head.seq) + 1,
      problem,
    });
    if (this.prev.seq < head.seq)
      return fail(
        `the log ends at row ${this.prev.seq} but its head anchor is row ${head.seq} (rows deleted from the end)`,
      );
    if (this.prev.seq > head.seq)
      return fail(`the log runs to row ${this.prev.seq} past its head anchor, row ${head.seq}`);
    if (this.prev.hash !== head.hash) return fail(`row ${head.seq} does not match the head anchor's hash`);
    return { ok: true, rows: this.rows, checkpointSeq: this.start.seq, headSeq: head.seq };
  }
}
