import { type AuditLog, type AuditVerification, auditRowHash, GENESIS_HASH } from '../store/audit.ts';
import type { Db } from '../store/db.ts';

/** SQLite's own structural check (quick_check: pages and indexes, not row contents). */
export function quickCheck(db: Db): string {
  const result = db.pragma('quick_check', { simple: true });
  return String(result);
}

/**
 * Walks the audit hash chain like AuditLog.verify, one page at a time with a yield in
 * between, so checking a long log from the console never stalls a keypad decision.
 * Rows come back parsed; re-serialising gives the stored text, because the log
 * stores exactly JSON.stringify of the data.
 */
export async function verifyAuditInSlices(
  audit: AuditLog,
  signal?: AbortSignal,
  pageSize = 500,
): Promise<AuditVerification> {
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let rows = 0;
  let last = 0;
  for (;;) {
    signal?.throwIfAborted();
    const page = audit.after(last, pageSize);
    if (page.length === 0) return { ok: true, rows };
    for (const row of page) {
      rows++;
      const broken = (problem: string): AuditVerification => ({
        ok: false,
        rows,
        firstBrokenSeq: row.seq,
        problem,
      });
      if (row.seq !== expectedSeq)
        return broken(`expected seq ${expectedSeq}, found ${row.seq} (a row is missing)`);
      if (row.prevHash !== prevHash) return broken('prev_hash does not match the previous row');
      if (auditRowHash(row.prevHash, row.seq, row.at, row.type, JSON.stringify(row.data)) !== row.hash) {
        return broken('row contents do not match its hash (edited)');
      }
      prevHash = row.hash;
      expectedSeq++;
      last = row.seq;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
