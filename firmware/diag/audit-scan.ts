import type { AuditLog, AuditRow } from '../store/audit.ts';

export interface ScanOptions {
  /** Rows read per page; the scan yields to the event loop between pages. */
  pageSize?: number;
  /** Rows looked at, at most, before giving up on finding `count`. */
  maxRows?: number;
  signal?: AbortSignal;
}

/**
 * The newest `count` audit rows that `match`, oldest first. Pages backwards through
 * the log with its public reads, yielding between pages, so a long log never holds
 * up a keypad decision.
 */
export async function recentRows(
  audit: AuditLog,
  match: (row: AuditRow) => boolean,
  count: number,
  options: ScanOptions = {},
): Promise<AuditRow[]> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be an integer >= 1');
  const pageSize = options.pageSize ?? 500;
  const maxRows = options.maxRows ?? 50_000;
  const found: AuditRow[] = [];
  let upper = audit.lastSeq();
  let scanned = 0;
  while (upper > 0 && found.length < count && scanned < maxRows) {
    options.signal?.throwIfAborted();
    const from = Math.max(0, upper - pageSize);
    const page = audit.after(from, upper - from);
    for (let i = page.length - 1; i >= 0 && found.length < count; i--)
      if (match(page[i]!)) found.push(page[i]!);
    scanned += page.length;
    upper = from;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return found.reverse();
}
