import type { Db } from '../store/db.ts';

/** SQLite's own structural check (quick_check: pages and indexes, not row contents). */
export function quickCheck(db: Db): string {
  const result = db.pragma('quick_check', { simple: true });
  return String(result);
}
