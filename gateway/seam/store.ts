import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { type GatewayDb, openGatewayDb } from '../store.ts';

/**
 * The Seam API's own tables in the gateway's SQLite file, all prefixed `seam_`. They
 * migrate by their own numbered list, tracked by the `seam_schema_version` row of
 * `seam_meta` (not PRAGMA user_version, which belongs to the gateway store's list).
 */
const SEAM_MIGRATIONS = [
  `CREATE TABLE seam_api_keys (
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
  `CREATE TABLE seam_webhooks (
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
  // 3: what the lock holds (its list_codes answer), unmanaged codes, external modification,
  // the backup pool, offline codes, create_multiple, and how far lock events are turned
  // into Seam events (per lock and incarnation).
  `ALTER TABLE seam_devices ADD COLUMN lock_codes TEXT;
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
   );   CREATE TABLE seam_unmanaged_codes (
     access_code_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     lock_code_id INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (device_id, lock_code_id)
   );`,
  // 4: every offline code ever issued per lock, kept after its access code is deleted,
  // so that a slot asked for again gets other digits (a revoked code never opens again).
  `CREATE TABLE seam_offline_issued (
     device_id TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     key_version INTEGER NOT NULL,
     issued_at INTEGER NOT NULL,
     PRIMARY KEY (device_id, fingerprint)
   );
   INSERT INTO seam_offline_issued (device_id, fingerprint, key_version, issued_at)
     SELECT device_id, offline_fingerprint, offline_key_version, created_at FROM seam_access_codes
      WHERE offline_fingerprint IS NOT NULL;`,
];

const VERSION_KEY = 'seam_schema_version';

function migrate(db: GatewayDb): void {
  db.exec('CREATE TABLE IF NOT EXISTS seam_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  db.transaction(() => {
    const row = db
      .prepare<[string], { value: string }>('SELECT value FROM seam_meta WHERE key = ?')
      .get(VERSION_KEY);
    const version = row ? Number(row.value) : 0;
    for (let v = version + 1; v <= SEAM_MIGRATIONS.length; v++) db.exec(SEAM_MIGRATIONS[v - 1]!);
    db.prepare(
      'INSERT INTO seam_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ).run(VERSION_KEY, String(SEAM_MIGRATIONS.length));
    for (const key of ['workspace_id', 'connected_account_id']) {
      db.prepare('INSERT OR IGNORE INTO seam_meta (key, value) VALUES (?, ?)').run(key, randomUUID());
    }
  }).immediate();
}

/** The ids Seam objects carry that stand for this gateway as a whole. */
export interface Workspace {
  workspaceId: string;
  connectedAccountId: string;
}

export interface SeamStore {
  db: GatewayDb;
  workspace: Workspace;
}

/**
 * Opens the gateway database with the Seam tables. The file holds device secrets, PINs
 * and API key hashes, so it (and its WAL files) is made readable by the owner only.
 */
export function openSeamStore(path: string): SeamStore {
  const db = openGatewayDb(path);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
  migrate(db);
  const meta = (key: string) =>
    db.prepare<[string], { value: string }>('SELECT value FROM seam_meta WHERE key = ?').get(key)!.value;
  return {
    db,
    workspace: { workspaceId: meta('workspace_id'), connectedAccountId: meta('connected_account_id') },
  };
}

export const iso = (epochMs: number): string => new Date(epochMs).toISOString();

const statements = new WeakMap<GatewayDb, Map<string, ReturnType<GatewayDb['prepare']>>>();

/** A prepared statement, compiled once per database (for the hot paths: lists, lookups). */
export function prepared<P extends unknown[], R>(store: SeamStore, sql: string) {
  let byText = statements.get(store.db);
  if (!byText) {
    byText = new Map();
    statements.set(store.db, byText);
  }
  let statement = byText.get(sql);
  if (!statement) {
    statement = store.db.prepare(sql);
    byText.set(sql, statement);
  }
  return statement as unknown as ReturnType<GatewayDb['prepare']> & {
    all(...args: P): R[];
    get(...args: P): R | undefined;
  };
}
