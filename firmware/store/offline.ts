import type { OfflineKind } from '../access/offline-layout.ts';
import type { Db } from './db.ts';
import { noteOfflineKeyVersion } from './identity.ts';

/**
 * What the lock remembers about offline codes (migration 3). Codes are known only by
 * fingerprint, never by their digits. Rows belong to a key version: rotating the key
 * (an erase code) makes every older row meaningless, so rotation deletes them.
 */

/** Rows are kept this long past their code's end, so a clock corrected backwards cannot revive a used code. */
export const PRUNE_MARGIN_MS = 7 * 86_400_000;

export interface OfflineCodeRow {
  keyVersion: number;
  fingerprint: string;
  kind: OfflineKind;
  /** The window the code had when last used; ends_at null for permanent codes. */
  startsAt: number | null;
  endsAt: number | null;
  firstUsedAt: number;
  lastUsedAt: number;
  uses: number;
}

export interface OfflineRevocation {
  keyVersion: number;
  fingerprint: string;
  revokedAt: number;
  /** When the row may go (the code's end, if the gateway said); null: kept until the key rotates. */
  expiresAt: number | null;
  revokedBy: string;
}

interface CodeRow {
  key_version: number;
  fingerprint: string;
  kind: string;
  starts_at: number | null;
  ends_at: number | null;
  first_used_at: number;
  last_used_at: number;
  uses: number;
}

interface RevocationRow {
  key_version: number;
  fingerprint: string;
  revoked_at: number;
  expires_at: number | null;
  revoked_by: string;
}

const fromCodeRow = (row: CodeRow): OfflineCodeRow => ({
  keyVersion: row.key_version,
  fingerprint: row.fingerprint,
  kind: row.kind as OfflineKind,
  startsAt: row.starts_at,
  endsAt: row.ends_at,
  firstUsedAt: row.first_used_at,
  lastUsedAt: row.last_used_at,
  uses: row.uses,
});

const fromRevocationRow = (row: RevocationRow): OfflineRevocation => ({
  keyVersion: row.key_version,
  fingerprint: row.fingerprint,
  revokedAt: row.revoked_at,
  expiresAt: row.expires_at,
  revokedBy: row.revoked_by,
});

/** Offline-code state. Every method is one statement or runs inside the caller's transaction. */
export class OfflineStore {
  private readonly versionStmt;
  private readonly rotateStmt;
  private readonly getStmt;
  private readonly useStmt;
  private readonly useAgainStmt;
  private readonly revokedStmt;
  private readonly revokeStmt;
  private readonly activeStmt;
  private readonly revocationsStmt;
  private cachedVersion: number | undefined;

  constructor(private readonly db: Db) {
    this.versionStmt = db.prepare<[], { version: number; rotated_at: number | null }>(
      'SELECT version, rotated_at FROM offline_key WHERE id = 1',
    );
    this.rotateStmt = db.prepare<[number, number]>(
      'UPDATE offline_key SET version = ?, rotated_at = ? WHERE id = 1',
    );
    this.getStmt = db.prepare<[number, string], CodeRow>(
      'SELECT * FROM offline_codes WHERE key_version = ? AND fingerprint = ?',
    );
    this.useStmt = db.prepare(
      `INSERT INTO offline_codes (key_version, fingerprint, kind, starts_at, ends_at, first_used_at, last_used_at, uses)
       VALUES (@keyVersion, @fingerprint, @kind, @startsAt, @endsAt, @at, @at, 1)
       ON CONFLICT (key_version, fingerprint) DO UPDATE SET
         uses = uses + 1, last_used_at = excluded.last_used_at, starts_at = excluded.starts_at, ends_at = excluded.ends_at`,
    );
    this.useAgainStmt = db.prepare(
      `UPDATE offline_codes SET uses = uses + 1, last_used_at = @at
       WHERE key_version = @keyVersion AND fingerprint = @fingerprint
         AND starts_at IS @startsAt AND ends_at IS @endsAt AND kind = @kind`,
    );
    this.revokedStmt = db.prepare<[number, string], { n: number }>(
      'SELECT COUNT(*) AS n FROM offline_revocations WHERE key_version = ? AND fingerprint = ?',
    );
    this.revokeStmt = db.prepare(
      `INSERT INTO offline_revocations (key_version, fingerprint, revoked_at, expires_at, revoked_by)
       VALUES (@keyVersion, @fingerprint, @at, @expiresAt, @by) ON CONFLICT DO NOTHING`,
    );
    this.activeStmt = db.prepare<[number, number], CodeRow>(
      `SELECT * FROM offline_codes WHERE key_version = ? AND (ends_at IS NULL OR ends_at > ?)
       ORDER BY first_used_at, fingerprint`,
    );
    this.revocationsStmt = db.prepare<[number], RevocationRow>(
      'SELECT * FROM offline_revocations WHERE key_version = ? ORDER BY revoked_at, fingerprint',
    );
  }

  /**
   * The key version offline codes must be issued under (1 until the first erase).
   * Cached so a keypad entry reads nothing before its HMAC; filled only outside a
   * transaction, so a rotation that is rolled back never leaves a wrong value.
   */
  keyVersion(): number {
    if (this.cachedVersion !== undefined) return this.cachedVersion;
    const version = this.versionStmt.get()!.version;
    if (!this.db.inTransaction) this.cachedVersion = version;
    return version;
  }

  rotatedAt(): number | null {
    return this.versionStmt.get()!.rotated_at;
  }

  /**
   * Moves to the next key version and forgets every row of the older ones: their
   * codes can no longer verify. Call inside the transaction of the erase decision.
   */
  rotateKey(at: number): { from: number; to: number } {
    const from = this.keyVersion();
    this.raiseKeyVersion(from + 1, at);
    return { from, to: from + 1 };
  }

  /**
   * Moves straight to key version `to` (a replacement store starting past the lost one,
   * or a restored database catching up with store.id). store.id is raised first, inside
   * the caller's transaction: if it cannot be written, nothing changes.
   */
  raiseKeyVersion(to: number, at: number): void {
    if (!Number.isSafeInteger(to) || to < 1) throw new RangeError('to must be a key version (integer >= 1)');
    const from = this.keyVersion();
    if (to <= from) return;
    noteOfflineKeyVersion(this.db, to);
    this.rotateStmt.run(to, at);
    this.cachedVersion = undefined;
    this.db.prepare('DELETE FROM offline_codes WHERE key_version < ?').run(to);
    this.db.prepare('DELETE FROM offline_revocations WHERE key_version < ?').run(to);
  }

  get(keyVersion: number, fingerprint: string): OfflineCodeRow | undefined {
    const row = this.getStmt.get(keyVersion, fingerprint);
    return row ? fromCodeRow(row) : undefined;
  }

  /** Counts a grant: the first one activates the code (single use for one_time). */
  recordUse(
    keyVersion: number,
    fingerprint: string,
    kind: OfflineKind,
    window: { startsAt: number | null; endsAt: number | null },
    at: number,
  ): void {
    const row = { keyVersion, fingerprint, kind, startsAt: window.startsAt, endsAt: window.endsAt, at };
    // A code used again with the window it had (nearly always) writes its row only: the
    // upsert would also rewrite its ends_at index entry, one more page in the decision's commit.
    if (this.useAgainStmt.run(row).changes === 0) this.useStmt.run(row);
  }

  isRevoked(keyVersion: number, fingerprint: string): boolean {
    return this.revokedStmt.get(keyVersion, fingerprint)!.n > 0;
  }

  /** Records a revocation; false when the code was revoked already. */
  revoke(
    keyVersion: number,
    fingerprint: string,
    at: number,
    by: string,
    expiresAt: number | null = null,
  ): boolean {
    return this.revokeStmt.run({ keyVersion, fingerprint, at, expiresAt, by }).changes === 1;
  }

  /** Codes used under `keyVersion` whose window has not ended at `now` (permanent ones always). */
  listActive(keyVersion: number, now: number): OfflineCodeRow[] {
    return this.activeStmt.all(keyVersion, now).map(fromCodeRow);
  }

  listRevoked(keyVersion: number): OfflineRevocation[] {
    return this.revocationsStmt.all(keyVersion).map(fromRevocationRow);
  }

  /** Deletes rows whose code ended more than PRUNE_MARGIN_MS before `now`; returns how many. */
  prune(now: number): number {
    const before = now - PRUNE_MARGIN_MS;
    const codes = this.db
      .prepare('DELETE FROM offline_codes WHERE ends_at IS NOT NULL AND ends_at < ?')
      .run(before);
    const revocations = this.db
      .prepare('DELETE FROM offline_revocations WHERE expires_at IS NOT NULL AND expires_at < ?')
      .run(before);
    return codes.changes + revocations.changes;
  }
}
