import { randomUUID } from 'node:crypto';
import { type MigrationStep, migrate, schemaVersion } from '../db/migrate.ts';
import type { Sql } from '../db/sql.ts';
import { openGatewayDb } from '../store.ts';
import { CLIENT_SESSION_MIGRATIONS } from './client-sessions.ts';

/**
 * The Seam API's own tables in the gateway database (SQLite or PostgreSQL), all prefixed
 * `seam_`. They migrate by their own numbered list, component `seam` of the
 * `schema_migrations` ledger (gateway/db/migrate.ts). In PostgreSQL, times (epoch ms)
 * and revisions are BIGINT; flags are INTEGER 0/1 in both.
 */
/** seam_access_codes' columns up to migration 5 (migration 6 copies them). */
const V5_ACCESS_CODE_COLUMNS = `access_code_id, device_id, name, code, starts_at, ends_at, is_one_time_use,
  created_at, declared_revision, removed_revision, outcome_revision, allow_external_modification, external_seen,
  enabled, use_backup_pool, backup_state, pulled_backup_access_code_id, offline_fingerprint, offline_key_version,
  common_code_key`;

export const SEAM_MIGRATIONS: readonly MigrationStep[] = [
  {
    sqlite: `CREATE TABLE seam_api_keys (
       api_key_id TEXT PRIMARY KEY,
       name TEXT NOT NULL,
       key_hash TEXT NOT NULL UNIQUE,
       created_at INTEGER NOT NULL,
       revoked_at INTEGER
     );
     CREATE TABLE seam_devices (
       device_id TEXT PRIMARY KEY,
       seam_device_id TEXT NOT NULL UNIQUE,
       created_at INTEGER NOT NULL,
       online INTEGER NOT NULL DEFAULT 0,
       online_since INTEGER,
       offline_since INTEGER,
       lock_state TEXT,
       reported_revision INTEGER NOT NULL DEFAULT 0,
       reported_codes TEXT,
       reported_at INTEGER,
       declared_revision INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE seam_access_codes (
       access_code_id TEXT PRIMARY KEY,
       device_id TEXT NOT NULL,
       name TEXT,
       code TEXT NOT NULL,
       starts_at INTEGER,
       ends_at INTEGER,
       is_one_time_use INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       declared_revision INTEGER NOT NULL,
       removed_revision INTEGER,
       outcome_revision INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX seam_access_codes_device ON seam_access_codes (device_id);
     CREATE TABLE seam_action_attempts (
       action_attempt_id TEXT PRIMARY KEY,
       action_type TEXT NOT NULL,
       device_id TEXT NOT NULL,
       access_code_id TEXT,
       awaited_revision INTEGER,
       status TEXT NOT NULL,
       result TEXT,
       error TEXT,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     );
     CREATE TABLE seam_events (
       event_id TEXT PRIMARY KEY,
       source TEXT UNIQUE,
       device_id TEXT NOT NULL,
       event_type TEXT NOT NULL,
       occurred_at INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       fields TEXT NOT NULL
     );
     CREATE INDEX seam_events_time ON seam_events (occurred_at);`,
    postgres: `CREATE TABLE seam_api_keys (
       api_key_id TEXT PRIMARY KEY,
       name TEXT NOT NULL,
       key_hash TEXT NOT NULL UNIQUE,
       created_at BIGINT NOT NULL,
       revoked_at BIGINT
     );
     CREATE TABLE seam_devices (
       device_id TEXT PRIMARY KEY,
       seam_device_id TEXT NOT NULL UNIQUE,
       created_at BIGINT NOT NULL,
       online INTEGER NOT NULL DEFAULT 0,
       online_since BIGINT,
       offline_since BIGINT,
       lock_state TEXT,
       reported_revision BIGINT NOT NULL DEFAULT 0,
       reported_codes TEXT,
       reported_at BIGINT,
       declared_revision BIGINT NOT NULL DEFAULT 0
     );
     CREATE TABLE seam_access_codes (
       access_code_id TEXT PRIMARY KEY,
       device_id TEXT NOT NULL,
       name TEXT,
       code TEXT NOT NULL,
       starts_at BIGINT,
       ends_at BIGINT,
       is_one_time_use INTEGER NOT NULL,
       created_at BIGINT NOT NULL,
       declared_revision BIGINT NOT NULL,
       removed_revision BIGINT,
       outcome_revision BIGINT NOT NULL DEFAULT 0
     );
     CREATE INDEX seam_access_codes_device ON seam_access_codes (device_id);
     CREATE TABLE seam_action_attempts (
       action_attempt_id TEXT PRIMARY KEY,
       action_type TEXT NOT NULL,
       device_id TEXT NOT NULL,
       access_code_id TEXT,
       awaited_revision BIGINT,
       status TEXT NOT NULL,
       result TEXT,
       error TEXT,
       created_at BIGINT NOT NULL,
       updated_at BIGINT NOT NULL
     );
     CREATE TABLE seam_events (
       event_id TEXT PRIMARY KEY,
       source TEXT UNIQUE,
       device_id TEXT NOT NULL,
       event_type TEXT NOT NULL,
       occurred_at BIGINT NOT NULL,
       created_at BIGINT NOT NULL,
       fields TEXT NOT NULL
     );
     CREATE INDEX seam_events_time ON seam_events (occurred_at);`,
  },
  {
    sqlite: `CREATE TABLE seam_webhooks (
       webhook_id TEXT PRIMARY KEY,
       url TEXT NOT NULL,
       secret TEXT NOT NULL,
       event_types TEXT NOT NULL,
       created_at INTEGER NOT NULL
     );
     CREATE TABLE seam_webhook_deliveries (
       delivery_id TEXT PRIMARY KEY,
       webhook_id TEXT NOT NULL,
       event_id TEXT NOT NULL,
       attempts INTEGER NOT NULL,
       next_attempt_at INTEGER NOT NULL,
       delivered_at INTEGER,
       last_error TEXT
     );
     CREATE INDEX seam_webhook_deliveries_due ON seam_webhook_deliveries (delivered_at, next_attempt_at);`,
    postgres: `CREATE TABLE seam_webhooks (
       webhook_id TEXT PRIMARY KEY,
       url TEXT NOT NULL,
       secret TEXT NOT NULL,
       event_types TEXT NOT NULL,
       created_at BIGINT NOT NULL
     );
     CREATE TABLE seam_webhook_deliveries (
       delivery_id TEXT PRIMARY KEY,
       webhook_id TEXT NOT NULL,
       event_id TEXT NOT NULL,
       attempts INTEGER NOT NULL,
       next_attempt_at BIGINT NOT NULL,
       delivered_at BIGINT,
       last_error TEXT
     );
     CREATE INDEX seam_webhook_deliveries_due ON seam_webhook_deliveries (delivered_at, next_attempt_at);`,
  },
  // 3: what the lock holds (its list_codes answer), unmanaged codes, external modification,
  // the backup pool, offline codes, create_multiple, and how far lock events are turned
  // into Seam events (per lock and incarnation).
  {
    sqlite: `ALTER TABLE seam_devices ADD COLUMN lock_codes TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN allow_external_modification INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE seam_access_codes ADD COLUMN external_seen TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE seam_access_codes ADD COLUMN use_backup_pool INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE seam_access_codes ADD COLUMN backup_state TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN pulled_backup_access_code_id TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN offline_fingerprint TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN offline_key_version INTEGER;
     ALTER TABLE seam_access_codes ADD COLUMN common_code_key TEXT;
     CREATE TABLE seam_lock_cursors (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq INTEGER NOT NULL,
       PRIMARY KEY (device_id, incarnation)
     );
     CREATE TABLE seam_unmanaged_codes (
       access_code_id TEXT PRIMARY KEY,
       device_id TEXT NOT NULL,
       lock_code_id INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       UNIQUE (device_id, lock_code_id)
     );`,
    postgres: `ALTER TABLE seam_devices ADD COLUMN lock_codes TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN allow_external_modification INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE seam_access_codes ADD COLUMN external_seen TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE seam_access_codes ADD COLUMN use_backup_pool INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE seam_access_codes ADD COLUMN backup_state TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN pulled_backup_access_code_id TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN offline_fingerprint TEXT;
     ALTER TABLE seam_access_codes ADD COLUMN offline_key_version INTEGER;
     ALTER TABLE seam_access_codes ADD COLUMN common_code_key TEXT;
     CREATE TABLE seam_lock_cursors (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq BIGINT NOT NULL,
       PRIMARY KEY (device_id, incarnation)
     );
     CREATE TABLE seam_unmanaged_codes (
       access_code_id TEXT PRIMARY KEY,
       device_id TEXT NOT NULL,
       lock_code_id BIGINT NOT NULL,
       created_at BIGINT NOT NULL,
       UNIQUE (device_id, lock_code_id)
     );`,
  },
  // 4: every offline code ever issued per lock, kept after its access code is deleted,
  // so that a slot asked for again gets other digits (a revoked code never opens again).
  {
    sqlite: `CREATE TABLE seam_offline_issued (
       device_id TEXT NOT NULL,
       fingerprint TEXT NOT NULL,
       key_version INTEGER NOT NULL,
       issued_at INTEGER NOT NULL,
       PRIMARY KEY (device_id, fingerprint)
     );
     INSERT INTO seam_offline_issued (device_id, fingerprint, key_version, issued_at)
       SELECT device_id, offline_fingerprint, offline_key_version, created_at FROM seam_access_codes
        WHERE offline_fingerprint IS NOT NULL;`,
    postgres: `CREATE TABLE seam_offline_issued (
       device_id TEXT NOT NULL,
       fingerprint TEXT NOT NULL,
       key_version INTEGER NOT NULL,
       issued_at BIGINT NOT NULL,
       PRIMARY KEY (device_id, fingerprint)
     );`,
  },
  // 5: an event's access code as its own column (events/list filters on it in both
  // dialects, without SQLite's json_extract).
  {
    sqlite: `ALTER TABLE seam_events ADD COLUMN access_code_id TEXT;
     UPDATE seam_events SET access_code_id = json_extract(fields, '$.access_code_id');
     CREATE INDEX seam_events_access_code ON seam_events (access_code_id);`,
    postgres: `ALTER TABLE seam_events ADD COLUMN access_code_id TEXT;
     CREATE INDEX seam_events_access_code ON seam_events (access_code_id);`,
  },
  // 6: unmanaged codes converted to managed ones (access_codes/unmanaged/convert_to_managed):
  // the gateway never learns their PIN, so `code` may be null, and `adopted_lock_code_id`
  // names the lock's code being adopted until the lock reports it done (docs/seam-api.md).
  // SQLite cannot drop a NOT NULL: the table is rebuilt with the same columns.
  {
    sqlite: `CREATE TABLE seam_access_codes_v6 (
       access_code_id TEXT PRIMARY KEY,
       device_id TEXT NOT NULL,
       name TEXT,
       code TEXT,
       starts_at INTEGER,
       ends_at INTEGER,
       is_one_time_use INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       declared_revision INTEGER NOT NULL,
       removed_revision INTEGER,
       outcome_revision INTEGER NOT NULL DEFAULT 0,
       allow_external_modification INTEGER NOT NULL DEFAULT 0,
       external_seen TEXT,
       enabled INTEGER NOT NULL DEFAULT 1,
       use_backup_pool INTEGER NOT NULL DEFAULT 0,
       backup_state TEXT,
       pulled_backup_access_code_id TEXT,
       offline_fingerprint TEXT,
       offline_key_version INTEGER,
       common_code_key TEXT,
       adopted_lock_code_id INTEGER
     );
     INSERT INTO seam_access_codes_v6 (${V5_ACCESS_CODE_COLUMNS}) SELECT ${V5_ACCESS_CODE_COLUMNS} FROM seam_access_codes;
     DROP TABLE seam_access_codes;
     ALTER TABLE seam_access_codes_v6 RENAME TO seam_access_codes;
     CREATE INDEX seam_access_codes_device ON seam_access_codes (device_id);`,
    postgres: `ALTER TABLE seam_access_codes ALTER COLUMN code DROP NOT NULL;
     ALTER TABLE seam_access_codes ADD COLUMN adopted_lock_code_id BIGINT;`,
  },
  // 7: each lock event turned into its Seam event is marked, so that it happens once
  // whichever worker does it, and seam_lock_cursors becomes the seq up to which every
  // event is translated (it was the highest one, which could pass a dead worker's events).
  // Events up to the old cursors are taken as translated: which were is not recorded.
  {
    sqlite: `CREATE TABLE seam_lock_translated (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq INTEGER NOT NULL,
       PRIMARY KEY (device_id, incarnation, seq)
     );
     INSERT INTO seam_lock_translated (device_id, incarnation, seq)
       SELECT e.device_id, e.incarnation, e.seq FROM events e JOIN seam_lock_cursors c
         ON c.device_id = e.device_id AND c.incarnation = e.incarnation AND e.seq <= c.seq;`,
    postgres: `CREATE TABLE seam_lock_translated (
       device_id TEXT NOT NULL,
       incarnation TEXT NOT NULL,
       seq BIGINT NOT NULL,
       PRIMARY KEY (device_id, incarnation, seq)
     );
     INSERT INTO seam_lock_translated (device_id, incarnation, seq)
       SELECT e.device_id, e.incarnation, e.seq FROM events e JOIN seam_lock_cursors c
         ON c.device_id = e.device_id AND c.incarnation = e.incarnation AND e.seq <= c.seq;`,
  },
];

const COMPONENT = 'seam';

/**
 * SQLite files made before the shared ledger kept the Seam schema version in
 * `seam_meta`: it is carried over to `schema_migrations` once, so no step runs twice.
 */
async function adoptLegacyVersion(sql: Sql): Promise<void> {
  if (sql.dialect !== 'sqlite') return;
  await sql.transaction(async (tx) => {
    const meta = await tx.get(
      "SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = 'seam_meta'",
    );
    if (!meta) return;
    const legacy = await tx.get<{ value: string }>(
      "SELECT value FROM seam_meta WHERE key = 'seam_schema_version'",
    );
    if (!legacy || (await schemaVersion(tx, COMPONENT)) > 0) return;
    for (let v = 1; v <= Number(legacy.value); v++)
      await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)', [
        COMPONENT,
        v,
        Date.now(),
      ]);
    await tx.run("DELETE FROM seam_meta WHERE key = 'seam_schema_version'");
  });
}

/** The ids Seam objects carry that stand for this gateway as a whole. */
export interface Workspace {
  workspaceId: string;
  connectedAccountId: string;
}

export interface SeamStore {
  sql: Sql;
  workspace: Workspace;
}

/**
 * The Seam tables on an open gateway database (made or migrated here). Several workers
 * may open one PostgreSQL database at once: the migrations serialise themselves, and the
 * workspace ids are made by whichever worker comes first.
 */
export async function seamStore(sql: Sql): Promise<SeamStore> {
  await sql.run('CREATE TABLE IF NOT EXISTS seam_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  await adoptLegacyVersion(sql);
  await migrate(sql, COMPONENT, SEAM_MIGRATIONS);
  await migrate(sql, 'seam_client_sessions', CLIENT_SESSION_MIGRATIONS);
  const meta = async (key: string) => {
    await sql.run('INSERT INTO seam_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [
      key,
      randomUUID(),
    ]);
    return (await sql.get<{ value: string }>('SELECT value FROM seam_meta WHERE key = ?', [key]))!.value;
  };
  return {
    sql,
    workspace: {
      workspaceId: await meta('workspace_id'),
      connectedAccountId: await meta('connected_account_id'),
    },
  };
}

/** Opens the gateway database (a SQLite file path or a postgres:// URL) with the Seam tables. */
export async function openSeamStore(target: string): Promise<SeamStore> {
  const sql = await openGatewayDb(target);
  try {
    return await seamStore(sql);
  } catch (error) {
    await sql.close();
    throw error;
  }
}

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/**
 * Serialises changes of one lock's codes across workers: PostgreSQL takes the lock's
 * row lock for the rest of the transaction (READ COMMITTED would otherwise let two
 * workers pass the same duplicate-PIN check); SQLite's BEGIN IMMEDIATE already
 * serialises every write transaction. Call inside the change's transaction.
 */
export async function lockDevice(store: SeamStore, deviceId: string): Promise<void> {
  if (store.sql.dialect !== 'postgres') return;
  await store.sql.get('SELECT device_id FROM seam_devices WHERE device_id = ? FOR UPDATE', [deviceId]);
}

/** ` FOR UPDATE` in PostgreSQL (rows the transaction changes next), nothing in SQLite. */
export const forUpdate = (store: SeamStore): string =>
  store.sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
