import type { Sql } from './sql.ts';

/** One schema change, written for each dialect (the text may hold several statements). */
export interface MigrationStep {
  sqlite: string;
  postgres: string;
}

/** Serialises migrations of several workers starting at once against one PostgreSQL database. */
const POSTGRES_MIGRATION_LOCK = 0x7475_6d62; // 'tumb'

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (component, version)
)`;

/**
 * Brings `component`'s tables up to `steps.length`: each step not yet recorded in
 * `schema_migrations` runs in its own transaction together with its record, so a step is
 * applied once and entirely, whichever process gets there first.
 */
export async function migrate(
  sql: Sql,
  component: string,
  steps: readonly MigrationStep[],
  now = Date.now(),
): Promise<void> {
  for (;;) {
    const applied = await sql.transaction(async (tx) => {
      if (tx.dialect === 'postgres')
        await tx.run('SELECT pg_advisory_xact_lock(?)', [POSTGRES_MIGRATION_LOCK]);
      await tx.run(LEDGER);
      const row = await tx.get<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM schema_migrations WHERE component = ?',
        [component],
      );
      const version = row?.version ?? 0;
      const step = steps[version];
      if (!step) return false;
      await tx.run(step[tx.dialect]);
      await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)', [
        component,
        version + 1,
        now,
      ]);
      return true;
    });
    if (!applied) return;
  }
}

/** The version `component` is at (0 when none of its steps ran). */
export async function schemaVersion(sql: Sql, component: string): Promise<number> {
  await sql.run(LEDGER);
  const row = await sql.get<{ version: number | null }>(
    'SELECT MAX(version) AS version FROM schema_migrations WHERE component = ?',
    [component],
  );
  return row?.version ?? 0;
}
