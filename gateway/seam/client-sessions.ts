import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MigrationStep } from '../db/migrate.ts';
import type { Sql } from '../db/sql.ts';
import type { SeamStore } from './store.ts';

/**
 * Client sessions, as Seam's browser components use them: a publishable key (or an API
 * key) and a user identifier buy a client session token (`seam_cst_` and 32 random
 * bytes), which then authenticates every call the console makes. Only a token's SHA-256
 * is stored, one row per token issued; the rows of one user identifier share one
 * `client_session_id`. A token ends at its `expires_at` or when the key that issued it
 * is revoked. Component `seam_client_sessions` of the migration ledger.
 */
export const CLIENT_SESSION_MIGRATIONS: readonly MigrationStep[] = [
  {
    sqlite: `CREATE TABLE seam_client_sessions (
       token_hash TEXT PRIMARY KEY,
       client_session_id TEXT NOT NULL,
       user_identifier_key TEXT,
       issuer_key_id TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       expires_at INTEGER NOT NULL
     );
     CREATE INDEX seam_client_sessions_user ON seam_client_sessions (user_identifier_key);`,
    postgres: `CREATE TABLE seam_client_sessions (
       token_hash TEXT PRIMARY KEY,
       client_session_id TEXT NOT NULL,
       user_identifier_key TEXT,
       issuer_key_id TEXT NOT NULL,
       created_at BIGINT NOT NULL,
       expires_at BIGINT NOT NULL
     );
     CREATE INDEX seam_client_sessions_user ON seam_client_sessions (user_identifier_key);`,
  },
];

/** How long a token lasts when the caller does not say (Seam's default is a day too). */
export const DEFAULT_SESSION_MS = 24 * 60 * 60 * 1000;
/** The longest a caller may ask for. */
export const MAX_SESSION_MS = 90 * 24 * 60 * 60 * 1000;

const TOKEN_FORMAT = /^seam_cst_[A-Za-z0-9_-]{43}$/;
const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** One issued token: the session it belongs to and the token itself (only the caller has it). */
export interface ClientSession {
  clientSessionId: string;
  userIdentifierKey: string | null;
  /** When the session (its first token) was made. */
  createdAt: number;
  expiresAt: number;
  token: string;
}

interface SessionRow {
  client_session_id: string;
  user_identifier_key: string | null;
  created_at: number;
  expires_at: number;
}

/**
 * A new token for `userIdentifierKey`: in the session that identifier already has
 * (`reuse`, client_sessions/get_or_create) or in a new one (client_sessions/create).
 */
export async function issueClientSession(
  sql: Sql,
  options: {
    issuerKeyId: string;
    userIdentifierKey: string | null;
    expiresAt: number;
    reuse: boolean;
  },
  now = Date.now(),
): Promise<ClientSession> {
  const token = `seam_cst_${randomBytes(32).toString('base64url')}`;
  return sql.transaction(async (tx) => {
    const existing =
      options.reuse && options.userIdentifierKey !== null
        ? await tx.get<{ client_session_id: string; created_at: number }>(
            `SELECT client_session_id, MIN(created_at) AS created_at FROM seam_client_sessions
              WHERE user_identifier_key = ? GROUP BY client_session_id ORDER BY created_at DESC LIMIT 1`,
            [options.userIdentifierKey],
          )
        : undefined;
    const clientSessionId = existing?.client_session_id ?? randomUUID();
    await tx.run(
      `INSERT INTO seam_client_sessions
         (token_hash, client_session_id, user_identifier_key, issuer_key_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [
        hashToken(token),
        clientSessionId,
        options.userIdentifierKey,
        options.issuerKeyId,
        now,
        options.expiresAt,
      ],
    );
    return {
      clientSessionId,
      userIdentifierKey: options.userIdentifierKey,
      createdAt: existing?.created_at ?? now,
      expiresAt: options.expiresAt,
      token,
    };
  });
}

/** The session `token` opens: well-formed, known, not expired, its issuing key not revoked. */
export async function clientSessionOf(
  sql: Sql,
  token: string,
  now = Date.now(),
): Promise<ClientSession | null> {
  if (!TOKEN_FORMAT.test(token)) return null;
  const row = await sql.get<SessionRow>(
    `SELECT s.client_session_id, s.user_identifier_key, s.expires_at,
            (SELECT MIN(f.created_at) FROM seam_client_sessions f
              WHERE f.client_session_id = s.client_session_id) AS created_at
       FROM seam_client_sessions s JOIN seam_api_keys k ON k.api_key_id = s.issuer_key_id
      WHERE s.token_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL`,
    [hashToken(token), now],
  );
  if (!row) return null;
  return {
    clientSessionId: row.client_session_id,
    userIdentifierKey: row.user_identifier_key,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    token,
  };
}

/**
 * Seam's `client_session` object. A session here sees every lock of the gateway (there
 * are no per-user connected accounts to narrow it to): `device_count` is all of them.
 */
export async function toSeamClientSession(store: SeamStore, session: ClientSession) {
  const devices = await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM seam_devices');
  return {
    client_session_id: session.clientSessionId,
    workspace_id: store.workspace.workspaceId,
    token: session.token,
    user_identifier_key: session.userIdentifierKey,
    created_at: new Date(session.createdAt).toISOString(),
    expires_at: new Date(session.expiresAt).toISOString(),
    device_count: Number(devices?.n ?? 0),
    connected_account_ids: [store.workspace.connectedAccountId],
    connect_webview_ids: [],
    user_identity_ids: [],
  };
}

/**
 * The gateway's one connected account (every lock's `connected_account_id`), as
 * `connected_accounts/get` answers it: the Seam components show it in a device's details.
 */
export function toSeamConnectedAccount(store: SeamStore) {
  return {
    connected_account_id: store.workspace.connectedAccountId,
    account_type: 'tumbler',
    account_type_display_name: 'Tumbler gateway',
    display_name: 'Tumbler gateway',
    errors: [],
    warnings: [],
    custom_metadata: {},
    automatically_manage_new_devices: true,
    accepted_capabilities: ['lock' as const],
  };
}
