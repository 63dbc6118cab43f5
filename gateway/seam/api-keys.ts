import { createHash, randomBytes } from 'node:crypto';
import { TumblerError } from '../../firmware/errors.ts';
import type { Sql } from '../db/sql.ts';

/**
 * API keys look like Seam's (`seam_` then the key's id, `_`, and 32 random bytes in
 * base64url), so the official clients accept them. Only their SHA-256 is stored; the key
 * itself is shown once, when it is made. The id is hex, so a key never starts like one of
 * Seam's other token kinds (`seam_at`, `seam_cst`, `seam_pk`).
 */
const KEY_FORMAT = /^seam_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

export interface ApiKeyInfo {
  apiKeyId: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

/**
 * A publishable key (`seam_pk_<id>_<32 random bytes>`, id `pk_<id>`) is kept in the same
 * table and revoked the same way, but opens only client sessions
 * (`client_sessions/get_or_create|create`): the console's sign-in (docs/console.md).
 */
const PUBLISHABLE_KEY_FORMAT = /^seam_pk_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

export type KeyKind = 'api_key' | 'publishable_key';

const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export async function createApiKey(
  sql: Sql,
  name: string,
  now = Date.now(),
  kind: KeyKind = 'api_key',
): Promise<{ key: string; info: ApiKeyInfo }> {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100)
    throw new TypeError('name: must be 1 to 100 characters');
  const id = randomBytes(4).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const apiKeyId = kind === 'publishable_key' ? `pk_${id}` : id;
  const key = kind === 'publishable_key' ? `seam_pk_${id}_${secret}` : `seam_${id}_${secret}`;
  await sql.run('INSERT INTO seam_api_keys (api_key_id, name, key_hash, created_at) VALUES (?, ?, ?, ?)', [
    apiKeyId,
    name.trim(),
    hashKey(key),
    now,
  ]);
  return { key, info: { apiKeyId, name: name.trim(), createdAt: now, revokedAt: null } };
}

export async function listApiKeys(sql: Sql): Promise<ApiKeyInfo[]> {
  const rows = await sql.all<{
    api_key_id: string;
    name: string;
    created_at: number;
    revoked_at: number | null;
  }>('SELECT api_key_id, name, created_at, revoked_at FROM seam_api_keys ORDER BY created_at, api_key_id');
  return rows.map((r) => ({
    apiKeyId: r.api_key_id,
    name: r.name,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revokes a key by its id; revoking a revoked key is an error, so a typo is not silent. */
export async function revokeApiKey(sql: Sql, apiKeyId: string, now = Date.now()): Promise<void> {
  const result = await sql.run(
    'UPDATE seam_api_keys SET revoked_at = ? WHERE api_key_id = ? AND revoked_at IS NULL',
    [now, apiKeyId],
  );
  if (result.changes === 0)
    throw new TumblerError('unknown_api_key', `no active API key with id ${JSON.stringify(apiKeyId)}`);
}

/** The id of `key` when it is a well-formed, known and not revoked key of that kind, else null. */
export async function activeKeyId(sql: Sql, key: string, kind: KeyKind): Promise<string | null> {
  const match = (kind === 'publishable_key' ? PUBLISHABLE_KEY_FORMAT : KEY_FORMAT).exec(key);
  if (!match) return null;
  const row = await sql.get<{ api_key_id: string; revoked_at: number | null }>(
    'SELECT api_key_id, revoked_at FROM seam_api_keys WHERE key_hash = ?',
    [hashKey(key)],
  );
  const expectedId = kind === 'publishable_key' ? `pk_${match[1]}` : match[1];
  return row !== undefined && row.revoked_at === null && row.api_key_id === expectedId
    ? row.api_key_id
    : null;
}

/** True when `key` is a well-formed, known and not revoked API key. */
export async function verifyApiKey(sql: Sql, key: string): Promise<boolean> {
  return (await activeKeyId(sql, key, 'api_key')) !== null;
}
