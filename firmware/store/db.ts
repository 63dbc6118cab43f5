import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TumblerError } from '../errors.ts';
import { MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

/**
 * Opens the lock's SQLite file and applies every pending migration.
 * The pragmas are set on every open: better-sqlite3 (like SQLite) does not keep
 * `synchronous` or `foreign_keys` across connections. Any failure (not a database,
 * a directory, a read-only data dir) is one `db_open_failed` error naming the file.
 *
 * A writable connection also remembers which files it opened (lock.db and its WAL,
 * by device and inode) and checks them before every transaction: a WAL deleted or a
 * database replaced under the running lock would make the next commits vanish at the
 * next restart (a used one-time code open again), so the transaction is refused with
 * `store_files_changed` instead (see `onStoreFilesChanged`).
 */
export function openDatabase(path: string, options: { readonly?: boolean; migrate?: boolean } = {}): Db {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  let db: Db | undefined;
  try {
    db = new Database(path, {
      readonly: options.readonly ?? false,
      fileMustExist: options.readonly ?? false,
    });
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    if (options.migrate ?? !options.readonly) migrate(db);
  } catch (error) {
    db?.close();
    if (error instanceof TumblerError) throw error;
    throw new TumblerError('db_open_failed', `cannot open database ${path}: ${(error as Error).message}`);
  }
  if (!options.readonly) guardStoreFiles(db, path);
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

interface FileId {
  path: string;
  dev: number;
  ino: number;
}

function fileId(path: string): FileId | undefined {
  try {
    const stat = statSync(path);
    return { path, dev: stat.dev, ino: stat.ino };
  } catch {
    return undefined;
  }
}

const guarded = new WeakMap<Db, { files: FileId[]; listeners: Set<(error: TumblerError) => void> }>();

function guardStoreFiles(db: Db, path: string): void {
  const files = [fileId(path), fileId(`${path}-wal`)].filter((id): id is FileId => id !== undefined);
  guarded.set(db, { files, listeners: new Set() });
  // One better-sqlite3 transaction for the connection, running whatever it is handed:
  // making one per call (what db.transaction does) costs more than a decision's SQL.
  const run = db.transaction((fn: Work, self: unknown, args: unknown[]) => {
    assertStoreFilesIntact(db);
    return fn.apply(self, args);
  });
  const as = (variant: typeof run.default, fn: Work) =>
    function (this: unknown, ...args: unknown[]) {
      return variant(fn, this, args);
    };
  db.transaction = ((fn: Work) => {
    if (typeof fn !== 'function') throw new TypeError('Expected first argument to be a function');
    const transaction = Object.assign(as(run.default, fn), {
      deferred: as(run.deferred, fn),
      immediate: as(run.immediate, fn),
      exclusive: as(run.exclusive, fn),
      database: db,
    });
    return Object.assign(transaction, { default: transaction });
  }) as Db['transaction'];
}

type Work = (...args: unknown[]) => unknown;

/**
 * Throws `store_files_changed` (and tells the listeners) when lock.db or its WAL is no
 * longer the file this connection opened. Run before every transaction, and by the
 * running lock when the data dir changes.
 */
export function assertStoreFilesIntact(db: Db): void {
  const guard = guarded.get(db);
  if (!guard || !db.open) return;
  for (const opened of guard.files) {
    const now = fileId(opened.path);
    if (now && now.dev === opened.dev && now.ino === opened.ino) continue;
    const error = new TumblerError(
      'store_files_changed',
      `${opened.path} was ${now ? 'replaced' : 'deleted'} under the running lock: stopping, so that no write is lost (restart lockfw; docs/reliability.md)`,
    );
    for (const listener of guard.listeners) listener(error);
    throw error;
  }
}

/** Calls `listener` once the store's files are found changed (the running lock stops on it). */
export function onStoreFilesChanged(db: Db, listener: (error: TumblerError) => void): () => void {
  const guard = guarded.get(db);
  if (!guard) return () => {};
  guard.listeners.add(listener);
  return () => guard.listeners.delete(listener);
}
