import { TumblerError } from '../errors.ts';
import type { Db } from './db.ts';

/** Checks a stored value: the value with its type, or undefined when it is not one. */
export type StateParser<T = unknown> = (value: unknown) => T | undefined;

/**
 * Small persisted device state (lockout counters, clock floor, mode, sync cursor) as
 * JSON by key. Every key has a parser that lives next to its owner (the table is
 * firmware/store/state-keys.ts): a value that does not parse is refused with an error
 * naming the key, never replaced by a default, so a damaged row cannot reset a
 * brute-force counter or a clock floor.
 */
export class StateStore {
  private readonly getStmt;
  private readonly setStmt;
  private readonly allStmt;

  constructor(
    db: Db,
    private readonly parsers: Readonly<Record<string, StateParser>>,
  ) {
    this.getStmt = db.prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?');
    this.setStmt = db.prepare<[string, string]>(
      'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.allStmt = db.prepare<[], { key: string; value: string }>(
      'SELECT key, value FROM state ORDER BY key',
    );
  }

  /**
   * The stored value over `fallback`'s fields (the fallback alone when the key was never
   * written); always a fresh object the caller may change. Throws `state_corrupt` when
   * the stored value does not parse.
   */
  get<T extends object>(key: string, fallback: T): T {
    const parse = this.parserFor(key);
    const row = this.getStmt.get(key);
    if (!row) return structuredClone(fallback);
    return { ...structuredClone(fallback), ...(this.parseRow(key, row.value, parse) as T) };
  }

  set<T>(key: string, value: T): void {
    this.parserFor(key);
    this.setStmt.run(key, JSON.stringify(value));
  }

  /** Parses every stored key (start-up): the first damaged one is refused, by name. */
  verify(): void {
    for (const row of this.allStmt.all()) {
      const parse = this.parsers[row.key];
      if (parse) this.parseRow(row.key, row.value, parse);
    }
  }

  private parserFor(key: string): StateParser {
    const parse = this.parsers[key];
    if (!parse)
      throw new Error(`state key ${JSON.stringify(key)} has no parser (firmware/store/state-keys.ts)`);
    return parse;
  }

  private parseRow(key: string, text: string, parse: StateParser): object {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw corrupt(key);
    }
    const parsed = parse(value);
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) throw corrupt(key);
    return parsed;
  }
}

function corrupt(key: string): TumblerError {
  return new TumblerError(
    'state_corrupt',
    `lock.db: the saved ${JSON.stringify(key)} state is damaged; refusing to start rather than reset it (restore lock.db from a backup; docs/reliability.md)`,
  );
}
