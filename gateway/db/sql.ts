/**
 * The gateway's database seam (issue 16): one async interface over the embedded SQLite
 * file (the default) and PostgreSQL (several gateway workers sharing one store).
 * SQL is written once for both dialects: `?` placeholders, `INSERT ... ON CONFLICT`,
 * `RETURNING`, integers as INTEGER/BIGINT, booleans as 0/1, JSON as TEXT.
 */
export type Dialect = 'sqlite' | 'postgres';

export interface RunResult {
  changes: number;
}

export interface Sql {
  readonly dialect: Dialect;
  /** `?` placeholders in both dialects (the postgres implementation rewrites them to $1..$n). */
  all<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  get<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** Without params the text may hold several statements (migrations). */
  run(text: string, params?: readonly unknown[]): Promise<RunResult>;
  /** One transaction; nested calls join the outer one. SQLite: BEGIN IMMEDIATE, serialised
   *  by a mutex on the one connection. Postgres: one pooled client, READ COMMITTED; use
   *  SELECT ... FOR UPDATE / UPDATE ... RETURNING to allocate numbers without races. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A `postgres://` or `postgresql://` URL selects PostgreSQL; anything else is a SQLite file path. */
export function isPostgresTarget(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

export async function openSql(target: string): Promise<Sql> {
  if (isPostgresTarget(target)) {
    const { openPostgres } = await import('./postgres.ts');
    return openPostgres(target);
  }
  const { openSqlite } = await import('./sqlite.ts');
  return openSqlite(target);
}

/** Both drivers take 0/1 for booleans and NULL for undefined (the schema stores INTEGER 0/1). */
export function bindable(params: readonly unknown[] | undefined): unknown[] {
  if (!params) return [];
  return params.map((value) => {
    if (value === undefined) return null;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value;
  });
}

/** A unique or primary-key constraint refused the write (both dialects). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** A connection string for messages and logs: the password, if any, replaced. */
export function describeTarget(target: string): string {
  if (!isPostgresTarget(target)) return target;
  try {
    const url = new URL(target);
    if (url.password) url.password = '***';
    // libpq-style parameters carry secrets too (`?password=`, `?sslpassword=`).
    for (const name of [...url.searchParams.keys()])
      if (/pass/i.test(name)) url.searchParams.set(name, '***');
    return url.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}
