import { createHash, randomUUID } from 'node:crypto';
import type { SeamStore } from './store.ts';

/**
 * Codes added at the lock (Seam's unmanaged codes) get their access_code_id from what
 * names one code across the lock's life, its id and creation instant (a lock reuses an id
 * after a removal): a UUID (version 8) hashed from the device, the lock's code id and its
 * `created_at`. A listing and the lock's `code_added` / `code_removed` events (which may
 * arrive in any order, or late after a gateway restart) thus name the same code the same
 * way without coordinating. Without a creation instant (a listing from older firmware)
 * the id is random, kept while the lock holds the code.
 */
export function unmanagedCodeId(deviceId: string, lockCodeId: number, createdAt: number): string {
  const hex = createHash('sha256')
    .update(`tumbler/unmanaged-code/v1\n${deviceId}\n${lockCodeId}\n${createdAt}`)
    .digest('hex')
    .slice(0, 32)
    .split('');
  hex[12] = '8';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

/**
 * Notes that the lock holds local code `lockCodeId` (made at `createdAt`, when known) and
 * returns its access_code_id. With `createdAt` the id is the code's own, replacing a row
 * left for an earlier code of the same lock id; without it, the stored id if there is one.
 */
export async function rememberUnmanaged(
  store: SeamStore,
  deviceId: string,
  lockCodeId: number,
  createdAt: number | undefined,
  now: number,
): Promise<string> {
  if (createdAt !== undefined) {
    const id = unmanagedCodeId(deviceId, lockCodeId, createdAt);
    await store.sql.run(
      'DELETE FROM seam_unmanaged_codes WHERE device_id = ? AND lock_code_id = ? AND access_code_id != ?',
      [deviceId, lockCodeId, id],
    );
    await store.sql.run(
      `INSERT INTO seam_unmanaged_codes (access_code_id, device_id, lock_code_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      [id, deviceId, lockCodeId, createdAt],
    );
    return id;
  }
  await store.sql.run(
    `INSERT INTO seam_unmanaged_codes (access_code_id, device_id, lock_code_id, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT DO NOTHING`,
    [randomUUID(), deviceId, lockCodeId, now],
  );
  const row = await store.sql.get<{ access_code_id: string }>(
    'SELECT access_code_id FROM seam_unmanaged_codes WHERE device_id = ? AND lock_code_id = ?',
    [deviceId, lockCodeId],
  );
  return row!.access_code_id;
}

/**
 * Forgets local code `lockCodeId` (removed at the lock, made at `createdAt` when known)
 * and returns its access_code_id; undefined when its creation instant is unknown and no
 * row names it.
 */
export async function forgetUnmanaged(
  store: SeamStore,
  deviceId: string,
  lockCodeId: number,
  createdAt: number | undefined,
): Promise<string | undefined> {
  const id =
    createdAt !== undefined
      ? unmanagedCodeId(deviceId, lockCodeId, createdAt)
      : (
          await store.sql.get<{ access_code_id: string }>(
            'SELECT access_code_id FROM seam_unmanaged_codes WHERE device_id = ? AND lock_code_id = ?',
            [deviceId, lockCodeId],
          )
        )?.access_code_id;
  if (id !== undefined)
    await store.sql.run('DELETE FROM seam_unmanaged_codes WHERE access_code_id = ?', [id]);
  return id;
}

/** The lock code ids that managed codes are adopting (convert_to_managed, until the lock reports it). */
export async function adoptingLockCodeIds(store: SeamStore, deviceId: string): Promise<Set<number>> {
  const rows = await store.sql.all<{ adopted_lock_code_id: number }>(
    'SELECT adopted_lock_code_id FROM seam_access_codes WHERE device_id = ? AND adopted_lock_code_id IS NOT NULL',
    [deviceId],
  );
  return new Set(rows.map((row) => Number(row.adopted_lock_code_id)));
}
