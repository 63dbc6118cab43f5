import { type AccessCodeRow, declareRevision } from './access-codes.ts';
import type { DeviceRow } from './devices.ts';
import { SeamInputError } from './errors.ts';
import { recordEvent } from './events.ts';
import type { LockCode, UnmanagedRow } from './lock-codes.ts';
import { lockDevice, type SeamStore } from './store.ts';

/**
 * access_codes/unmanaged/convert_to_managed (docs/seam-api.md, Unmanaged codes). The lock
 * never reveals a PIN, so the managed code is declared with `adopt: <lock code id>`
 * (docs/protocol.md, Adopting a code): the lock makes its local code the gateway's in the
 * document's transaction, keeping the PIN only it knows. The access code keeps its id,
 * has `code: null`, and is `setting` until the lock reports the revision.
 */

/** Why a local code cannot be a Seam access code without losing one of its rules, if it cannot. */
function unconvertible(code: LockCode, now: number): string | undefined {
  if (code.kind === 'recurring' || (code.schedule !== undefined && code.schedule !== null))
    return 'it opens on a weekly schedule, which a Seam access code cannot carry';
  if (code.role !== 'standard') return `its role is ${code.role}, which a Seam access code cannot carry`;
  if (code.max_uses !== undefined && code.max_uses !== null)
    return 'it has a use limit, which a Seam access code cannot carry';
  if (code.expire_after_first_use !== undefined && code.expire_after_first_use !== null)
    return 'it expires after its first use, which a Seam access code cannot carry';
  if ((code.starts_at === null) !== (code.ends_at === null))
    return 'its window has one end only, which a Seam access code cannot carry';
  if (code.ends_at !== null && Date.parse(code.ends_at) <= now) return 'its window has ended';
  if (code.kind === 'offline' || code.source !== 'local') return 'it is not a code added at the lock';
  return undefined;
}

/**
 * Declares the managed code that adopts an unmanaged one, under the lock's next revision
 * (the caller publishes it). A code whose rules a Seam access code cannot carry is
 * refused (400 naming access_code_id), and so is one converted meanwhile; either way
 * nothing changes.
 */
export async function convertToManaged(
  store: SeamStore,
  device: DeviceRow,
  unmanaged: UnmanagedRow,
  code: LockCode,
  allowExternalModification: boolean,
  now = Date.now(),
): Promise<number> {
  const reason = unconvertible(code, now);
  if (reason) throw new SeamInputError('access_code_id', `access_code_id: cannot be managed: ${reason}`);
  return store.sql.transaction(async () => {
    await lockDevice(store, device.device_id);
    const taken = await store.sql.run('DELETE FROM seam_unmanaged_codes WHERE access_code_id = ?', [
      unmanaged.access_code_id,
    ]);
    if (taken.changes !== 1)
      throw new SeamInputError('access_code_id', 'access_code_id: the code is already being converted');
    const revision = await declareRevision(store, device);
    await store.sql.run(
      `INSERT INTO seam_access_codes (access_code_id, device_id, name, code, starts_at, ends_at, is_one_time_use,
         created_at, declared_revision, allow_external_modification, enabled, adopted_lock_code_id)
       VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        unmanaged.access_code_id,
        device.device_id,
        code.name,
        code.starts_at === null ? null : Date.parse(code.starts_at),
        code.ends_at === null ? null : Date.parse(code.ends_at),
        code.kind === 'one_time' ? 1 : 0,
        unmanaged.created_at,
        revision,
        allowExternalModification ? 1 : 0,
        code.enabled ? 1 : 0,
        code.id,
      ],
    );
    return revision;
  });
}

/**
 * The lock's report on a revision that adopts a code (inside the report's transaction):
 * set, the conversion is done (`access_code.unmanaged.converted_to_managed`; later
 * revisions declare the code with `keep_pin`); refused (the code was gone, or another
 * enabled code has its PIN), the code is unmanaged again under the same id, as the lock
 * left it (`access_code.unmanaged.failed_to_convert_to_managed`). Returns false for a code
 * that is not being converted.
 */
export async function settleConversion(
  store: SeamStore,
  row: AccessCodeRow,
  set: boolean,
  now: number,
): Promise<boolean> {
  if (row.adopted_lock_code_id === null) return false;
  if (set)
    await store.sql.run('UPDATE seam_access_codes SET adopted_lock_code_id = NULL WHERE access_code_id = ?', [
      row.access_code_id,
    ]);
  else {
    await store.sql.run('DELETE FROM seam_access_codes WHERE access_code_id = ?', [row.access_code_id]);
    await store.sql.run(
      `INSERT INTO seam_unmanaged_codes (access_code_id, device_id, lock_code_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      [row.access_code_id, row.device_id, row.adopted_lock_code_id, row.created_at],
    );
  }
  await recordEvent(
    store,
    {
      deviceId: row.device_id,
      type: set
        ? 'access_code.unmanaged.converted_to_managed'
        : 'access_code.unmanaged.failed_to_convert_to_managed',
      occurredAt: now,
      fields: { access_code_id: row.access_code_id },
    },
    now,
  );
  return true;
}
