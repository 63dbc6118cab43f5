import { createHash, randomBytes } from 'node:crypto';
import { TumblerError } from '../../firmware/errors.ts';
import type { GatewayDb } from '../store.ts';

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

const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export function createApiKey(
  db: GatewayDb,
  name: string,
  now = Date.now(),
): { key: string; info: ApiKeyInfo } {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100)
    throw new TypeError('name: must be 1 to 100 characters');
  const apiKeyId = randomBytes(4).toString('hex');
  const key = `seam_${apiKeyId}_${randomBytes(32).toString('base64url')}`;
  db.prepare('INSERT INTO seam_api_keys (api_key_id, name, key_hash, created_at) VALUES (?, ?, ?, ?)').run(
    apiKeyId,
    name.trim(),
    hashKey(key),
    now,
  );
  return { key, info: { apiKeyId, name: name.trim(), createdAt: now, revokedAt: null } };
}

export function listApiKeys(db: GatewayDb): ApiKeyInfo[] {
  return db
    .prepare<[], { api_key_id: string; name: string; created_at: number; revoked_at: number | null }>(
      'SELECT api_key_id, name, created_at, revoked_at FROM seam_api_keys ORDER BY created_at, api_key_id',
    )
    .all()
    .map((r) => ({ apiKeyId: r.api_key_id, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at }));
}

/** Revokes a key by its id; revoking a revoked key is an error, so a typo is not silent. */
export function revokeApiKey(db: GatewayDb, apiKeyId: string, now = Date.now()): void {
  const result = db
    .prepare('UPDATE seam_api_keys SET revoked_at = ? WHERE api_key_id = ? AND revoked_at IS NULL')
    .run(now, apiKeyId);
  if (result.changes === 0)
    throw new TumblerError('unknown_api_key', `no active API key with id ${JSON.stringify(apiKeyId)}`);
}

/** True when `key` is a well-formed, known and not revoked API key. */
export function verifyApiKey(db: GatewayDb, key: string): boolean {
  if (!KEY_FORMAT.test(key)) return false;
  const row = db
    .prepare<[string], { revoked_at: number | null }>(
      'SELECT revoked_at FROM seam_api_keys WHERE key_hash = ?',
    )
    .get(hashKey(key));
  return row !== undefined && row.revoked_at === null;
}
