import { AsyncLocalStorage } from 'node:async_hooks';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { TumblerError } from '../../firmware/errors.ts';
import { bindable, type RunResult, type Sql } from './sql.ts';

/**
 * The embedded store: one better-sqlite3 connection (WAL, synchronous FULL) behind the
 * async interface. Transactions take a mutex, so an await inside one never lets another
 * caller's statement land in it; statements outside a transaction wait while one is open.
 * Every open of one file in a process shares its connection: a second connection's
 * BEGIN would wait synchronously, blocking the event loop the first one needs to finish.
 */
class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  /** Set while the current async flow is inside this connection's transaction. */
  private readonly insideTransaction = new AsyncLocalStorage<true>();
  private mutexTail: Promise<void> = Promise.resolve();
  private closed = false;
  /** Handles open on this connection (openSqlite calls not yet closed). */
  refs = 1;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  all<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.inTurn(() => this.prepare(text).all(...bindable(params)) as R[]);
  }

  get<R>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.inTurn(() => this.prepare(text).get(...bindable(params)) as R | undefined);
  }

  run(text: string, params?: readonly unknown[]): Promise<RunResult> {
    return this.inTurn(() => {
      let statement: Database.Statement;
      try {
        statement = this.prepare(text);
      } catch (error) {
        // A migration step: several statements, no parameters.
        if (params?.length || !/more than one statement/.test((error as Error).message)) throw error;
        this.db.exec(text);
        return { changes: 0 };
      }
      return { changes: statement.run(...bindable(params)).changes };
    });
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.insideTransaction.getStore()) return fn(this);
    const release = await this.acquire();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.insideTransaction.run(true, () => fn(this));
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.refs -= 1;
    if (this.refs > 0) return;
    connections.delete(this.path);
    // Let an open transaction finish first.
    const release = await this.acquire();
    this.closed = true;
    this.db.close();
    release();
  }

  /**
   * Runs one statement: at once inside our transaction or when none is open, else while
   * holding the mutex after the open one (so it never lands in another flow's transaction).
   */
  private async inTurn<T>(statement: () => T): Promise<T> {
    if (this.closed) throw new TumblerError('gateway_db', 'the gateway database is closed');
    if (this.insideTransaction.getStore() || !this.db.inTransaction) return statement();
    const release = await this.acquire();
    try {
      if (this.closed) throw new TumblerError('gateway_db', 'the gateway database is closed');
      return statement();
    } finally {
      release();
    }
  }

  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.mutexTail;
    this.mutexTail = previous.then(() => held);
    await previous;
    return release;
  }

  private prepare(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }
}

const connections = new Map<string, SqliteSql>();

/**
 * Opens (creating) a SQLite file for the gateway. It holds device secrets in clear: the
 * file is 0600 whatever the umask, and an older file made wider is narrowed (SQLite gives
 * its -wal and -shm files the same mode).
 */
export function openSqlite(file: string): Sql {
  const path = resolve(file);
  const shared = connections.get(path);
  if (shared) {
    shared.refs += 1;
    return new SqliteHandle(shared);
  }
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    db = new Database(path);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  } catch (error) {
    throw new TumblerError('gateway_db', `cannot open gateway database ${path}: ${(error as Error).message}`);
  }
  const connection = new SqliteSql(db, path);
  connections.set(path, connection);
  return new SqliteHandle(connection);
}

/** One open of the file: closing it twice releases the shared connection once. */
class SqliteHandle implements Sql {
  readonly dialect = 'sqlite' as const;
  private closed = false;

  constructor(private readonly connection: SqliteSql) {}

  all<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.open().all<R>(text, params);
  }

  get<R>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.open().get<R>(text, params);
  }

  run(text: string, params?: readonly unknown[]): Promise<RunResult> {
    return this.open().run(text, params);
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.open().transaction(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }

  private open(): SqliteSql {
    if (this.closed) throw new TumblerError('gateway_db', 'the gateway database is closed');
    return this.connection;
  }
}
