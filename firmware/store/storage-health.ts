import Database from 'better-sqlite3';

/** What the lock knows about its storage from its last writes (status, selftest, info). */
export interface StorageStatus {
  /** False from a failed write until the next write that succeeds. */
  writable: boolean;
  /** The failure was the disk (or the database's page limit) being full. */
  full: boolean;
  /** Monotonic ms of the first failure in the current run of failures. */
  failingSinceMono: number | null;
  /** Writes that failed since storage was last writable. */
  failedWrites: number;
  /** The last failure, one line (SQLite's code and message; never data). */
  lastError: string | null;
}

const STORAGE_SQLITE_CODES = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|BUSY|LOCKED|PROTOCOL)/;

/** A write failure that is the storage's (SQLite or the file system), not a bug in the caller. */
export function isStorageError(error: unknown): boolean {
  if (error instanceof Database.SqliteError) return STORAGE_SQLITE_CODES.test(error.code);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EIO' || code === 'EROFS' || code === 'EDQUOT';
}

function isFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

const HEALTHY: StorageStatus = {
  writable: true,
  full: false,
  failingSinceMono: null,
  failedWrites: 0,
  lastError: null,
};

/** Tracks failed and successful writes; the lock keeps running (and refusing) while full. */
export class StorageHealth {
  private status: StorageStatus = { ...HEALTHY };

  /** Notes a failed write; true when it is the first of a run (worth a log line at error level). */
  failed(error: unknown, nowMono: number): boolean {
    const first = this.status.writable;
    const code = (error as { code?: unknown }).code;
    this.status = {
      writable: false,
      full: isFull(error),
      failingSinceMono: this.status.failingSinceMono ?? nowMono,
      failedWrites: this.status.failedWrites + 1,
      lastError: `${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`.slice(0, 200),
    };
    return first;
  }

  /** Notes a committed write; when it ends a run of failures (space came back), that run. */
  succeeded(): StorageStatus | undefined {
    if (this.status.writable) return undefined;
    const ended = this.status;
    this.status = { ...HEALTHY };
    return ended;
  }

  snapshot(): StorageStatus {
    return { ...this.status };
  }
}
