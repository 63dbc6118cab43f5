import type { Db } from './db.ts';

/** Small persisted device state (lockout counters, clock floor, mode) as JSON by key. */
export class StateStore {
  private readonly getStmt;
  private readonly setStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?');
    this.setStmt = db.prepare<[string, string]>(
      'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  /** The stored value over `fallback`'s fields; always a fresh object the caller may change. */
  get<T extends object>(key: string, fallback: T): T {
    const row = this.getStmt.get(key);
    if (!row) return structuredClone(fallback);
    try {
      return { ...structuredClone(fallback), ...(JSON.parse(row.value) as T) };
    } catch {
      return structuredClone(fallback);
    }
  }

  set<T>(key: string, value: T): void {
    this.setStmt.run(key, JSON.stringify(value));
  }
}
