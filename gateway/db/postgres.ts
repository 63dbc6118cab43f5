import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { TumblerError } from '../../firmware/errors.ts';
import { bindable, describeTarget, type RunResult, type Sql } from './sql.ts';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** BIGINT (counts, millisecond times) and NUMERIC (sums) come back as JS numbers, not strings. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Deadlock and serialisation failures: the whole transaction is run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const TRANSACTION_ATTEMPTS = 5;

const rewritten = new Map<string, string>();

/**
 * `?` placeholders to `$1..$n`, leaving string literals, quoted identifiers and comments
 * alone. Only statements with parameters are rewritten (migration text is sent as is).
 */
export function numberPlaceholders(text: string): string {
  const known = rewritten.get(text);
  if (known !== undefined) return known;
  let out = '';
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      const stop = end === -1 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += text.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
    } else {
      out += c;
    }
  }
  rewritten.set(text, out);
  return out;
}

type Executor = pg.Pool | pg.PoolClient;

/**
 * PostgreSQL through a `pg` Pool. Statements outside a transaction take any pooled
 * connection; a transaction holds one client (READ COMMITTED), and every statement the
 * same async flow issues while it is open goes to that client, whichever Sql it names.
 */
class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const;

  constructor(
    private readonly executor: Executor,
    private readonly pool: pg.Pool,
    private readonly current: AsyncLocalStorage<PostgresSql>,
  ) {}

  async all<R>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return (await this.query(text, params)).rows as R[];
  }

  async get<R>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
    return (await this.query(text, params)).rows[0] as R | undefined;
  }

  async run(text: string, params?: readonly unknown[]): Promise<RunResult> {
    return { changes: (await this.query(text, params)).rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const open = this.current.getStore();
    if (open) return fn(open);
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx = new PostgresSql(client, this.pool, this.current);
        try {
          const result = await this.current.run(tx, () => fn(tx));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError;
          });
          const code = (error as { code?: string }).code;
          if (code && RETRYABLE.has(code) && attempt < TRANSACTION_ATTEMPTS) continue;
          throw error;
        }
      } finally {
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    if (this.executor === this.pool && !this.pool.ended) await this.pool.end();
  }

  private query(text: string, params?: readonly unknown[]): Promise<pg.QueryResult> {
    const open = this.current.getStore();
    const executor = open && open !== this ? open.executor : this.executor;
    if (!params?.length) return executor.query(text);
    return executor.query(numberPlaceholders(text), bindable(params));
  }
}

export async function openPostgres(url: string): Promise<Sql> {
  const pool = new pg.Pool({ connectionString: url, types: typeParsers, max: 10 });
  // An idle client whose server went away must not take the process down; the next
  // query gets a fresh connection (or a clear error).
  pool.on('error', (error) => {
    process.stderr.write(`gateway database connection lost (${describeTarget(url)}): ${error.message}\n`);
  });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new TumblerError(
      'gateway_db',
      `cannot open gateway database ${describeTarget(url)}: ${(error as Error).message}`,
    );
  }
  return new PostgresSql(pool, pool, new AsyncLocalStorage<PostgresSql>());
}
