import Database from 'better-sqlite3';
import { TumblerError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

/**
 * Opens the lock's SQLite file and applies every pending migration.
 * The pragmas are set on every open: better-sqlite3 (like SQLite) does not keep
 * `synchronous` or `foreign_keys` across connections.
 */
export function openDatabase(path: string, options: { readonly?: boolean; migrate?: boolean } = {}): Db {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  let db: Db;
  try {
    db = new Database(path, {
      readonly: options.readonly ?? false,
      fileMustExist: options.readonly ?? false,
    });
  } catch (error) {
    throw new TumblerError('db_open_failed', `cannot open database ${path}: ${(error as Error).message}`);
  }
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  if (options.migrate ?? !options.readonly) migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies migrations after the current `user_version`, each in its own transaction. */
export function migrate(db: Db, upTo: number = MIGRATIONS.length): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new TumblerError(
      'db_too_new',
      `database schema version ${current} is newer than this firmware knows (${MIGRATIONS.length}); refusing to touch it`,
    );
  }
  for (let version = current + 1; version <= upTo; version++) {
    const sql = MIGRATIONS[version - 1]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  }
}
