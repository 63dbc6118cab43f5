import { z } from 'zod';
import { type AccessCodeRow, declaredCodes, declareRevision, lockEntry } from './access-codes.ts';
import { type DeviceRow, deviceByLockId, reportedCodes } from './devices.ts';
import { recordEvent } from './events.ts';
import { iso, lockDevice, type SeamStore } from './store.ts';
import { adoptingLockCodeIds, rememberUnmanaged } from './unmanaged.ts';

/** One code as the lock's `list_codes` command lists it (docs/protocol.md); never a PIN. */
export const lockCodeSchema = z
  .object({
    id: z.number().int(),
    ref: z.string().nullable(),
    source: z.string(),
    name: z.string(),
    kind: z.string(),
    role: z.string(),
    enabled: z.boolean(),
    assigned: z.boolean(),
    starts_at: z.string().nullable(),
    ends_at: z.string().nullable(),
    // Newer firmware: the rest of the code's rules and its creation instant.
    schedule: z.unknown().optional(),
    max_uses: z.number().nullable().optional(),
    expire_after_first_use: z.number().nullable().optional(),
    created_at: z.string().optional(),
  })
  .passthrough();
export const lockCodesSchema = z
  .object({
    applied_revision: z.number().int().min(0),
    offline: z.object({
      key_version: z.number().int().min(1),
      length: z.number().int(),
      timezone: z.string(),
    }),
    codes: z.array(lockCodeSchema),
  })
  .passthrough();
export type LockCode = z.infer<typeof lockCodeSchema>;
export type LockCodes = z.infer<typeof lockCodesSchema>;

/** The lock's last listing, as stored on its device row (undefined until the first one). */
export function lockCodesOf(device: DeviceRow): LockCodes | undefined {
  return device.lock_codes ? (JSON.parse(device.lock_codes) as LockCodes) : undefined;
}

export interface UnmanagedRow {
  access_code_id: string;
  device_id: string;
  lock_code_id: number;
  created_at: number;
}

/**
 * Codes added at the lock itself (source `local`) are Seam's unmanaged codes, each with
 * its access_code_id (gateway/seam/unmanaged.ts) while the lock holds it. A code a managed
 * code is adopting (convert_to_managed) is no longer one of them. Their events come from
 * the lock's `code_added` / `code_removed` (gateway/seam/events.ts), not from listings.
 */
async function syncUnmanaged(
  store: SeamStore,
  deviceId: string,
  listing: LockCodes,
  now: number,
): Promise<void> {
  const adopting = await adoptingLockCodeIds(store, deviceId);
  const local = listing.codes.filter((c) => c.source === 'local' && !adopting.has(c.id));
  const kept = new Set<string>();
  for (const code of local)
    kept.add(
      await rememberUnmanaged(
        store,
        deviceId,
        code.id,
        code.created_at === undefined ? undefined : Date.parse(code.created_at),
        now,
      ),
    );
  const known = await store.sql.all<UnmanagedRow>('SELECT * FROM seam_unmanaged_codes WHERE device_id = ?', [
    deviceId,
  ]);
  for (const row of known)
    if (!kept.has(row.access_code_id))
      await store.sql.run('DELETE FROM seam_unmanaged_codes WHERE access_code_id = ?', [row.access_code_id]);
}

export async function unmanagedCodes(
  store: SeamStore,
  device: DeviceRow,
): Promise<Array<{ row: UnmanagedRow; code: LockCode }>> {
  const listing = lockCodesOf(device);
  if (!listing) return [];
  const byId = new Map(listing.codes.filter((c) => c.source === 'local').map((c) => [c.id, c]));
  const rows = await store.sql.all<UnmanagedRow>(
    'SELECT * FROM seam_unmanaged_codes WHERE device_id = ? ORDER BY lock_code_id',
    [device.device_id],
  );
  return rows.flatMap((row) => {
    const code = byId.get(row.lock_code_id);
    return code ? [{ row, code }] : [];
  });
}

export function unmanagedById(store: SeamStore, id: string): Promise<UnmanagedRow | undefined> {
  return store.sql.get<UnmanagedRow>('SELECT * FROM seam_unmanaged_codes WHERE access_code_id = ?', [id]);
}

/** Seam's unmanaged_access_code: the lock never reveals a PIN, so `code` is null. */
export function toSeamUnmanagedCode(store: SeamStore, row: UnmanagedRow, code: LockCode, device: DeviceRow) {
  const timeBound = code.starts_at !== null && code.ends_at !== null;
  return {
    access_code_id: row.access_code_id,
    device_id: device.seam_device_id,
    workspace_id: store.workspace.workspaceId,
    name: code.name,
    code: null,
    type: timeBound ? ('time_bound' as const) : ('ongoing' as const),
    ...(timeBound ? { starts_at: code.starts_at!, ends_at: code.ends_at! } : {}),
    status: 'set' as const,
    created_at: iso(row.created_at),
    errors: [],
    warnings: [],
    is_managed: false as const,
  };
}

/** What about a gateway code the lock holds differs from what the gateway declared, if anything. */
function externalChange(row: AccessCodeRow, held: LockCode | undefined): 'deleted' | 'modified' | null {
  if (!held) return 'deleted';
  const declared = lockEntry(row);
  const same =
    held.enabled === (row.enabled === 1) &&
    held.name === declared.name &&
    held.kind === declared.kind &&
    (held.starts_at === null ? null : Date.parse(held.starts_at)) === row.starts_at &&
    (held.ends_at === null ? null : Date.parse(held.ends_at)) === row.ends_at;
  return same ? null : 'modified';
}

/**
 * Stores the lock's listing and compares it with what the API declared. A code the lock
 * had set (it reported so for the revision that declared it) that is now gone or
 * different was changed at the lock (a technician, a factory reset): one
 * `access_code.deleted_external_to_seam` or `modified_external_to_seam` event per
 * declared version, then, unless the code allows external modification, the code is
 * declared again under a new revision (re-set) while its `ends_at` is ahead. A code that
 * allows it and was deleted at the lock is dropped; one modified there (switched off,
 * renamed) takes the lock's version as its declaration, so later revisions keep it.
 * Returns whether a new revision must be published.
 */
export function applyLockCodes(
  store: SeamStore,
  deviceId: string,
  listing: LockCodes,
  now = Date.now(),
): Promise<boolean> {
  return store.sql.transaction(async () => {
    await lockDevice(store, deviceId);
    await store.sql.run('UPDATE seam_devices SET lock_codes = ? WHERE device_id = ?', [
      JSON.stringify(listing),
      deviceId,
    ]);
    await syncUnmanaged(store, deviceId, listing, now);
    const device = (await deviceByLockId(store, deviceId))!;
    const reported = new Map(reportedCodes(device).map((c) => [c.ref, c]));
    const held = new Map(
      listing.codes.filter((c) => c.source === 'gateway' && c.ref !== null).map((c) => [c.ref!, c]),
    );
    const reset: AccessCodeRow[] = [];
    const dropped: AccessCodeRow[] = [];
    const adopt = (...params: unknown[]) =>
      store.sql.run(
        `UPDATE seam_access_codes SET name = ?, starts_at = ?, ends_at = ?, is_one_time_use = ?, enabled = ?
           WHERE access_code_id = ?`,
        params,
      );
    for (const row of await declaredCodes(store, deviceId)) {
      // Only a version the lock applied and reported stored can have been changed there.
      if (row.declared_revision > listing.applied_revision) continue;
      if (row.backup_state === 'pool') continue; // hidden; the next revision declares it again anyway
      if (device.reported_revision < row.declared_revision) continue;
      const status = reported.get(row.access_code_id)?.status;
      if (status !== 'set' && status !== 'pending') continue;
      const change = externalChange(row, held.get(row.access_code_id));
      if (change === null) continue;
      const seen = `${change}@${row.declared_revision}`;
      if (row.external_seen === seen) continue;
      await store.sql.run('UPDATE seam_access_codes SET external_seen = ? WHERE access_code_id = ?', [
        seen,
        row.access_code_id,
      ]);
      await recordEvent(
        store,
        {
          deviceId,
          type:
            change === 'deleted'
              ? 'access_code.deleted_external_to_seam'
              : 'access_code.modified_external_to_seam',
          occurredAt: now,
          fields: { access_code_id: row.access_code_id },
        },
        now,
      );
      const lockCode = held.get(row.access_code_id);
      // A one-time code deleted at the lock may have been used there: setting it again
      // would open the door a second time, so it is dropped (fail closed).
      // A converted code whose PIN only the lock knew cannot be set again either.
      if (!lockCode && (row.is_one_time_use === 1 || row.code === null)) dropped.push(row);
      else if (row.allow_external_modification === 1) {
        if (!lockCode) dropped.push(row);
        // The lock's version becomes the declared one, so later revisions keep it.
        else
          await adopt(
            lockCode.name,
            lockCode.starts_at === null ? null : Date.parse(lockCode.starts_at),
            lockCode.ends_at === null ? null : Date.parse(lockCode.ends_at),
            lockCode.kind === 'one_time' ? 1 : 0,
            lockCode.enabled ? 1 : 0,
            row.access_code_id,
          );
      } else if (row.ends_at === null || row.ends_at > now) reset.push(row);
    }
    // Offline codes of an older key version no longer open (an erase code or a factory
    // reset moved the lock's key on): they are gone from the lock, whatever the API says.
    const superseded = await store.sql.all<{ access_code_id: string }>(
      `SELECT access_code_id FROM seam_access_codes
         WHERE device_id = ? AND offline_fingerprint IS NOT NULL AND offline_key_version < ?`,
      [deviceId, listing.offline.key_version],
    );
    for (const { access_code_id } of superseded) {
      await store.sql.run('DELETE FROM seam_access_codes WHERE access_code_id = ?', [access_code_id]);
      await recordEvent(
        store,
        {
          deviceId,
          type: 'access_code.deleted_external_to_seam',
          occurredAt: now,
          fields: { access_code_id },
        },
        now,
      );
    }
    if (reset.length === 0 && dropped.length === 0) return false;
    const revision = await declareRevision(store, device);
    for (const row of reset)
      await store.sql.run('UPDATE seam_access_codes SET declared_revision = ? WHERE access_code_id = ?', [
        revision,
        row.access_code_id,
      ]);
    for (const row of dropped)
      await store.sql.run('DELETE FROM seam_access_codes WHERE access_code_id = ?', [row.access_code_id]);
    return true;
  });
}
