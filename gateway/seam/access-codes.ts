import { randomInt, randomUUID } from 'node:crypto';
import { parseCodeFields, parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { takeRevision } from '../store.ts';
import { type DeviceRow, disconnectedError, type ReportedCode, reportedCodes } from './devices.ts';
import { SeamInputError } from './errors.ts';
import { recordEvent } from './events.ts';
import { forUpdate, iso, lockDevice, type SeamStore } from './store.ts';

export interface AccessCodeRow {
  access_code_id: string;
  device_id: string;
  name: string | null;
  /** The PIN; null for a code converted from an unmanaged one: only the lock knows its PIN. */
  code: string | null;
  starts_at: number | null;
  ends_at: number | null;
  is_one_time_use: number;
  created_at: number;
  /** The desired revision that declared this version of the code. */
  declared_revision: number;
  /** The desired revision that leaves it out (deleted), or null. */
  removed_revision: number | null;
  /** The declared revision whose outcome (set or failed) has been turned into an event. */
  outcome_revision: number;
  /** 1: a change made at the lock stands (Seam's allow_external_modification); 0: it is re-set. */
  allow_external_modification: number;
  /** The external change last turned into an event, as `deleted@REV` or `modified@REV`. */
  external_seen: string | null;
  /** 0: switched off on the lock (a backup pool member, or a change at the lock the code allows). */
  enabled: number;
  /** 1: created with use_backup_access_code_pool. */
  use_backup_pool: number;
  /** `pool`: an unassigned backup code (switched off, hidden from the API); `pulled`: handed out. */
  backup_state: 'pool' | 'pulled' | null;
  pulled_backup_access_code_id: string | null;
  /** An offline code (docs/offline-codes.md): its fingerprint; never declared to the lock. */
  offline_fingerprint: string | null;
  /** The lock's offline key version it was issued under (an erase code or a factory reset moves it on). */
  offline_key_version: number | null;
  /** The codes one create_multiple made share it. */
  common_code_key: string | null;
  /**
   * A code converted from an unmanaged one: the lock's id of the code it adopts, until the
   * lock reports the adoption (then null, and the code is declared with `keep_pin`).
   */
  adopted_lock_code_id: number | null;
}

/** What a caller may set on a code (create, or the merged result of an update). */
export interface AccessCodeFields {
  name: string | null;
  /** Null only for a converted code whose PIN only the lock knows. */
  code: string | null;
  startsAt: number | null;
  endsAt: number | null;
  isOneTimeUse: boolean;
  allowExternalModification: boolean;
  useBackupPool?: boolean;
  /** An offline code already issued (its digits are `code`): stored, never declared to the lock. */
  offlineFingerprint?: string;
  offlineKeyVersion?: number;
  commonCodeKey?: string;
}

/** The code as the lock's desired/codes entry (docs/protocol.md); the PIN is sealed by the publisher. */
export interface LockEntry {
  ref: string;
  name: string;
  kind: string;
  starts_at?: string;
  ends_at?: string;
  enabled?: boolean;
  /** The PIN; or, for a converted code, `adopt` (the lock's code id) or `keep_pin`. */
  pin?: string;
  adopt?: number;
  keep_pin?: true;
}

export function lockEntry(row: AccessCodeRow): LockEntry {
  const kind = row.is_one_time_use ? 'one_time' : row.starts_at !== null ? 'time_bound' : 'ongoing';
  return {
    ref: row.access_code_id,
    // The lock needs a name for technicians; an unnamed code goes by its id's first part.
    name: row.name ?? `code ${row.access_code_id.slice(0, 8)}`,
    kind,
    ...(row.starts_at !== null ? { starts_at: iso(row.starts_at) } : {}),
    ...(row.ends_at !== null ? { ends_at: iso(row.ends_at) } : {}),
    ...(row.enabled === 0 ? { enabled: false } : {}),
    // A converted code's PIN is the one the lock holds (docs/protocol.md, Adopting a code).
    ...(row.code !== null
      ? { pin: row.code }
      : row.adopted_lock_code_id !== null
        ? { adopt: row.adopted_lock_code_id }
        : { keep_pin: true }),
  };
}

const toRow = (
  id: string,
  deviceId: string,
  fields: AccessCodeFields,
  createdAt: number,
  revision: number,
): AccessCodeRow => ({
  access_code_id: id,
  device_id: deviceId,
  name: fields.name,
  code: fields.code,
  starts_at: fields.startsAt,
  ends_at: fields.endsAt,
  is_one_time_use: fields.isOneTimeUse ? 1 : 0,
  created_at: createdAt,
  declared_revision: revision,
  removed_revision: null,
  outcome_revision: 0,
  allow_external_modification: fields.allowExternalModification ? 1 : 0,
  external_seen: null,
  enabled: 1,
  use_backup_pool: fields.useBackupPool ? 1 : 0,
  backup_state: null,
  pulled_backup_access_code_id: null,
  offline_fingerprint: fields.offlineFingerprint ?? null,
  offline_key_version: fields.offlineKeyVersion ?? null,
  common_code_key: fields.commonCodeKey ?? null,
  adopted_lock_code_id: null,
});

/**
 * The lock's own rules for a code (firmware/access/code-spec.ts), applied before the
 * gateway accepts it, so a code the lock would refuse is a 400 and changes nothing.
 * The lock calls the PIN `pin`; the API calls it `code`.
 */
function checkAgainstLockRules(row: AccessCodeRow, now: number): void {
  const { ref: _ref, adopt: _adopt, keep_pin: _keepPin, ...spec } = lockEntry(row);
  const parsed = spec.pin === undefined ? parseCodeFields(spec) : parseCodeSpec(spec);
  if (!parsed.ok) {
    const message = parsed.message.replace(/\bpin\b/g, 'code');
    const field = /^(\w+):/.exec(message)?.[1] ?? (parsed.error === 'invalid_window' ? 'ends_at' : 'code');
    throw new SeamInputError(field === 'kind' ? 'is_one_time_use' : field, message);
  }
  if (row.ends_at !== null && row.ends_at <= now)
    throw new SeamInputError('ends_at', 'ends_at: must be in the future');
}

export const pinTaken = async (
  store: SeamStore,
  deviceId: string,
  code: string,
  exceptId = '',
): Promise<boolean> =>
  (await store.sql.get(
    `SELECT access_code_id FROM seam_access_codes
     WHERE device_id = ? AND code = ? AND removed_revision IS NULL AND access_code_id != ?`,
    [deviceId, code, exceptId],
  )) !== undefined;

/** One PIN per lock: the lock refuses two enabled codes with the same PIN. */
async function checkUniquePin(
  store: SeamStore,
  deviceId: string,
  code: string | null,
  exceptId?: string,
): Promise<void> {
  // A converted code's PIN is unknown here; the lock itself refuses a duplicate (duplicate_code).
  if (code !== null && (await pinTaken(store, deviceId, code, exceptId)))
    throw new SeamInputError(
      'code',
      'code: another access code on this device has the same code',
      'duplicate_access_code',
    );
}

/**
 * Takes the lock's next desired revision for a change of its codes (above what the
 * gateway sent and what the lock applied) and notes it as the API's latest declaration.
 * Runs inside the change's transaction.
 */
export async function declareRevision(store: SeamStore, device: DeviceRow): Promise<number> {
  const revision = await takeRevision(store.sql, device.device_id, device.reported_revision);
  // Of two workers' declarations, the higher stays (each took its own revision).
  await store.sql.run(
    'UPDATE seam_devices SET declared_revision = ? WHERE device_id = ? AND declared_revision < ?',
    [revision, device.device_id, revision],
  );
  return revision;
}

export const GENERATED_CODE_LENGTH = 6;

/** A random PIN (CSPRNG) that no other code of the lock has, for a create that leaves `code` out. */
export async function generateCode(
  store: SeamStore,
  deviceId: string,
  length = GENERATED_CODE_LENGTH,
): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const code = Array.from({ length }, () => randomInt(10)).join('');
    if (!(await pinTaken(store, deviceId, code))) return code;
  }
  throw new SeamInputError(
    'preferred_code_length',
    `preferred_code_length: no free ${length}-digit code found`,
  );
}

const INSERTED_COLUMNS = [
  'access_code_id',
  'device_id',
  'name',
  'code',
  'starts_at',
  'ends_at',
  'is_one_time_use',
  'created_at',
  'declared_revision',
  'removed_revision',
  'outcome_revision',
  'allow_external_modification',
  'enabled',
  'use_backup_pool',
  'backup_state',
  'offline_fingerprint',
  'offline_key_version',
  'common_code_key',
] as const satisfies ReadonlyArray<keyof AccessCodeRow>;

const INSERT = `INSERT INTO seam_access_codes (${INSERTED_COLUMNS.join(', ')})
  VALUES (${INSERTED_COLUMNS.map(() => '?').join(', ')})`;

const insertRow = (store: SeamStore, row: AccessCodeRow) =>
  store.sql.run(
    INSERT,
    INSERTED_COLUMNS.map((column) => row[column]),
  );

/** Checks and stores a new code under the lock's next desired revision (the caller then publishes it). */
export async function createAccessCode(
  store: SeamStore,
  device: DeviceRow,
  fields: AccessCodeFields,
  now = Date.now(),
): Promise<{ row: AccessCodeRow; revision: number }> {
  const draft = toRow(randomUUID(), device.device_id, fields, now, 0);
  const offline = draft.offline_fingerprint !== null;
  if (!offline) checkAgainstLockRules(draft, now);
  return store.sql.transaction(async () => {
    await lockDevice(store, device.device_id);
    await checkUniquePin(store, device.device_id, fields.code);
    // An offline code carries its own validity: nothing to declare to the lock.
    const revision = offline ? 0 : await declareRevision(store, device);
    const row = { ...draft, declared_revision: revision };
    await insertRow(store, row);
    if (offline) {
      const issued = await store.sql.run(
        `INSERT INTO seam_offline_issued (device_id, fingerprint, key_version, issued_at) VALUES (?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
        [row.device_id, row.offline_fingerprint, row.offline_key_version, now],
      );
      // Another worker issued the same digits a moment ago: this one is not given out twice.
      if (issued.changes !== 1)
        throw new SeamInputError(
          'is_offline_access_code',
          'is_offline_access_code: the same offline code was just issued by another request; ask again',
        );
    }
    if (row.use_backup_pool === 1) await fillBackupPool(store, device.device_id, revision, now);
    await recordEvent(
      store,
      {
        deviceId: device.device_id,
        type: 'access_code.created',
        occurredAt: now,
        fields: { access_code_id: row.access_code_id },
      },
      now,
    );
    return { row, revision };
  });
}

export async function updateAccessCode(
  store: SeamStore,
  device: DeviceRow,
  current: AccessCodeRow,
  fields: AccessCodeFields,
  now = Date.now(),
): Promise<{ row: AccessCodeRow; revision: number }> {
  // Until the lock reports the adoption, a new PIN would make a second code beside the adopted one.
  if (current.adopted_lock_code_id !== null && fields.code !== current.code)
    throw new SeamInputError(
      'code',
      'code: the code is being converted to a managed one; change it once it is set',
    );
  const draft = toRow(current.access_code_id, device.device_id, fields, current.created_at, 0);
  checkAgainstLockRules(draft, now);
  return store.sql.transaction(async () => {
    await lockDevice(store, device.device_id);
    await checkUniquePin(store, device.device_id, fields.code, current.access_code_id);
    const revision = await declareRevision(store, device);
    await recordEvent(
      store,
      {
        deviceId: device.device_id,
        type: 'access_code.changed',
        occurredAt: now,
        fields: { access_code_id: current.access_code_id },
      },
      now,
    );
    const row = { ...draft, declared_revision: revision, outcome_revision: current.outcome_revision };
    await store.sql.run(
      `UPDATE seam_access_codes SET name = ?, code = ?, starts_at = ?, ends_at = ?,
           is_one_time_use = ?, declared_revision = ?, allow_external_modification = ?
         WHERE access_code_id = ? AND removed_revision IS NULL`,
      [
        row.name,
        row.code,
        row.starts_at,
        row.ends_at,
        row.is_one_time_use,
        row.declared_revision,
        row.allow_external_modification,
        row.access_code_id,
      ],
    );
    return { row, revision };
  });
}

/** Marks the code removed from the next revision; the row goes once the lock reports it. */
export function removeAccessCode(store: SeamStore, device: DeviceRow, code: AccessCodeRow): Promise<number> {
  return store.sql.transaction(async () => {
    await lockDevice(store, device.device_id);
    const revision = await declareRevision(store, device);
    const marked = await store.sql.run(
      'UPDATE seam_access_codes SET removed_revision = ? WHERE access_code_id = ? AND removed_revision IS NULL',
      [revision, code.access_code_id],
    );
    // Deleted meanwhile by another request (another worker): this one changes nothing.
    if (marked.changes !== 1)
      throw new SeamInputError('access_code_id', 'access_code_id: the access code is already being deleted');
    return revision;
  });
}

/** The codes the lock should hold: every code of the device not being removed. */
export function declaredCodes(store: SeamStore, deviceId: string): Promise<AccessCodeRow[]> {
  return store.sql.all<AccessCodeRow>(
    `SELECT * FROM seam_access_codes WHERE device_id = ? AND removed_revision IS NULL AND offline_fingerprint IS NULL
     ORDER BY created_at, access_code_id`,
    [deviceId],
  );
}

/** Not an unassigned backup pool member (those are hidden from the API). */
const NOT_IN_POOL = "(backup_state IS NULL OR backup_state != 'pool')";

export function accessCodeById(store: SeamStore, id: string): Promise<AccessCodeRow | undefined> {
  return store.sql.get<AccessCodeRow>(
    `SELECT * FROM seam_access_codes WHERE access_code_id = ? AND ${NOT_IN_POOL}`,
    [id],
  );
}

export function listAccessCodes(
  store: SeamStore,
  filter: { deviceId?: string; ids?: string[] },
): Promise<AccessCodeRow[]> {
  const where: string[] = [NOT_IN_POOL];
  const args: string[] = [];
  if (filter.deviceId !== undefined) {
    where.push('device_id = ?');
    args.push(filter.deviceId);
  }
  if (filter.ids) {
    where.push(`access_code_id IN (${filter.ids.map(() => '?').join(', ') || 'NULL'})`);
    args.push(...filter.ids);
  }
  return store.sql.all<AccessCodeRow>(
    `SELECT * FROM seam_access_codes WHERE ${where.join(' AND ')} ORDER BY created_at, access_code_id`,
    args,
  );
}

/** Seam's error code for a lock's per-code refusal (docs/protocol.md reported/codes). */
export function codeErrorCode(lockError: string | undefined): string {
  if (lockError === 'duplicate_code') return 'duplicate_code_on_device';
  if (lockError === 'no_space') return 'no_space_for_access_code_on_device';
  return 'failed_to_set_on_device';
}

/**
 * A device row's reported codes by ref, parsed once per row object: a list answers
 * every code of a lock from one row.
 */
const reportedCache = new WeakMap<DeviceRow, Map<string, ReportedCode>>();
function reportedByRef(device: DeviceRow): Map<string, ReportedCode> {
  let byRef = reportedCache.get(device);
  if (!byRef) {
    byRef = new Map(reportedCodes(device).map((c) => [c.ref, c]));
    reportedCache.set(device, byRef);
  }
  return byRef;
}

export type AccessCodeStatus = 'setting' | 'set' | 'unset' | 'removing' | 'unknown';

/**
 * The one rule for a code's status, from what the lock last reported:
 * `removing` while its removal is not reported; `setting` until the lock reports the
 * revision that declared it; then `set` (stored; a time-bound code whose window starts
 * later is stored at once and the lock enforces the window) or `unset` with the lock's
 * refusal as an error.
 */
export function accessCodeState(
  row: AccessCodeRow,
  device: DeviceRow,
): { status: AccessCodeStatus; reported: ReportedCode | undefined } {
  if (row.removed_revision !== null) return { status: 'removing', reported: undefined };
  if (row.offline_fingerprint !== null) return { status: 'set', reported: undefined };
  if (device.reported_revision < row.declared_revision) return { status: 'setting', reported: undefined };
  const reported = reportedByRef(device).get(row.access_code_id);
  if (!reported) return { status: 'unknown', reported };
  return { status: reported.status === 'error' ? 'unset' : 'set', reported };
}

/** The Seam access_code object; the only place (with access_codes/get) a PIN leaves the gateway. */
export async function toSeamAccessCode(store: SeamStore, row: AccessCodeRow, device: DeviceRow) {
  return seamAccessCode(
    store,
    row,
    device,
    row.use_backup_pool === 1 && (await backupAvailable(store, device)),
  );
}

/**
 * toSeamAccessCode without a query, for lists: `backupAvailable` is whether the lock
 * holds a backup code to pull (asked once per lock, `backupAvailable()`).
 */
export function seamAccessCode(
  store: SeamStore,
  row: AccessCodeRow,
  device: DeviceRow,
  backupAvailable: boolean,
) {
  const { status, reported } = accessCodeState(row, device);
  const errors: Array<Record<string, unknown>> = [];
  if (reported?.status === 'error') {
    errors.push({
      error_code: codeErrorCode(reported.error),
      is_access_code_error: true,
      message: `the lock refused the code: ${reported.error}: ${reported.message ?? ''}`.trim(),
      created_at: iso(device.reported_at ?? row.created_at),
    });
  }
  if (device.online !== 1) errors.push(disconnectedError(device));
  const timeBound = row.starts_at !== null;
  return {
    access_code_id: row.access_code_id,
    device_id: device.seam_device_id,
    workspace_id: store.workspace.workspaceId,
    name: row.name,
    code: row.code,
    common_code_key: row.common_code_key,
    type: timeBound ? ('time_bound' as const) : ('ongoing' as const),
    ...(timeBound ? { starts_at: iso(row.starts_at!), ends_at: iso(row.ends_at!) } : {}),
    status,
    created_at: iso(row.created_at),
    errors,
    warnings: [],
    is_managed: true as const,
    is_scheduled_on_device: timeBound && row.offline_fingerprint === null,
    is_waiting_for_code_assignment: false,
    is_backup_access_code_available: row.use_backup_pool === 1 && backupAvailable,
    is_backup: row.backup_state === 'pulled',
    is_external_modification_allowed: row.allow_external_modification === 1,
    is_one_time_use: row.is_one_time_use === 1,
    is_offline_access_code: row.offline_fingerprint !== null,
    pulled_backup_access_code_id: row.pulled_backup_access_code_id,
  };
}

/** Unassigned backup codes kept declared (switched off) on a lock that has codes using the pool. */
export const BACKUP_POOL_SIZE = 3;

const BACKUP_POOL_NAME = 'backup pool';

/**
 * Tops the lock's backup pool up to BACKUP_POOL_SIZE: codes with random PINs (CSPRNG,
 * unique on the lock) declared switched off, so they never open until pulled. Runs in
 * the transaction of the change that took `revision`.
 */
async function fillBackupPool(
  store: SeamStore,
  deviceId: string,
  revision: number,
  now: number,
): Promise<void> {
  const { count } = (await store.sql.get<{ count: number }>(
    "SELECT count(*) AS count FROM seam_access_codes WHERE device_id = ? AND backup_state = 'pool'",
    [deviceId],
  ))!;
  for (let i = count; i < BACKUP_POOL_SIZE; i++) {
    const row = toRow(
      randomUUID(),
      deviceId,
      {
        name: BACKUP_POOL_NAME,
        code: await generateCode(store, deviceId),
        startsAt: null,
        endsAt: null,
        isOneTimeUse: false,
        allowExternalModification: false,
      },
      now,
      revision,
    );
    await insertRow(store, { ...row, enabled: 0, backup_state: 'pool' });
  }
}

/** Pool members the lock reports holding (switched off), oldest first: the ones a pull may hand out. */
async function poolOnLock(store: SeamStore, device: DeviceRow): Promise<AccessCodeRow[]> {
  const held = new Set(
    reportedCodes(device)
      .filter((c) => c.status === 'set')
      .map((c) => c.ref),
  );
  const rows = await store.sql.all<AccessCodeRow>(
    `SELECT * FROM seam_access_codes WHERE device_id = ? AND backup_state = 'pool'
       AND removed_revision IS NULL AND declared_revision <= ? ORDER BY created_at, access_code_id`,
    [device.device_id, device.reported_revision],
  );
  return rows.filter((row) => held.has(row.access_code_id));
}

const backupCache = new WeakMap<DeviceRow, Promise<boolean>>();
/** Whether the lock holds a backup code a pull may hand out (once per device row object). */
export function backupAvailable(store: SeamStore, device: DeviceRow): Promise<boolean> {
  let available = backupCache.get(device);
  if (available === undefined) {
    available = poolOnLock(store, device).then((pool) => pool.length > 0);
    backupCache.set(device, available);
  }
  return available;
}

/**
 * Hands out a backup code for `original` (Seam's pull_backup_access_code): a pool member
 * the lock holds becomes a managed code with the original's window and use, switched on
 * in the next revision; the pool is topped up in the same revision. Pulling again answers
 * the backup already pulled.
 */
export async function pullBackupCode(
  store: SeamStore,
  device: DeviceRow,
  original: AccessCodeRow,
  now = Date.now(),
): Promise<{ backup: AccessCodeRow; original: AccessCodeRow; revision: number | null }> {
  if (original.use_backup_pool !== 1)
    throw new SeamInputError(
      'access_code_id',
      'access_code_id: the access code was not created with use_backup_access_code_pool',
    );
  if (original.pulled_backup_access_code_id !== null) {
    const backup = await accessCodeById(store, original.pulled_backup_access_code_id);
    if (backup) return { backup, original, revision: null };
  }
  if (original.ends_at !== null && original.ends_at <= now)
    throw new SeamInputError('access_code_id', 'access_code_id: the access code has ended');
  return store.sql.transaction(async () => {
    await lockDevice(store, device.device_id);
    const member = (await poolOnLock(store, device))[0];
    if (!member)
      throw new SeamInputError(
        'access_code_id',
        'access_code_id: no backup access code is available on this device',
        'no_backup_access_code_available',
      );
    const revision = await declareRevision(store, device);
    const name = `${original.name ?? `code ${original.access_code_id.slice(0, 8)}`} (backup)`.slice(0, 64);
    await store.sql.run(
      `UPDATE seam_access_codes SET backup_state = 'pulled', enabled = 1, name = ?, starts_at = ?, ends_at = ?,
           is_one_time_use = ?, declared_revision = ?, created_at = ? WHERE access_code_id = ?`,
      [
        name,
        original.starts_at,
        original.ends_at,
        original.is_one_time_use,
        revision,
        now,
        member.access_code_id,
      ],
    );
    await store.sql.run(
      'UPDATE seam_access_codes SET pulled_backup_access_code_id = ? WHERE access_code_id = ?',
      [member.access_code_id, original.access_code_id],
    );
    await fillBackupPool(store, device.device_id, revision, now);
    await recordEvent(
      store,
      {
        deviceId: device.device_id,
        type: 'access_code.backup_access_code_pulled',
        occurredAt: now,
        fields: { access_code_id: original.access_code_id, backup_access_code_id: member.access_code_id },
      },
      now,
    );
    return {
      backup: (await accessCodeById(store, member.access_code_id))!,
      original: (await accessCodeById(store, original.access_code_id))!,
      revision,
    };
  });
}

/** The fingerprints of every offline code this lock was ever given. */
export async function offlineCodesIssued(store: SeamStore, deviceId: string): Promise<Set<string>> {
  const rows = await store.sql.all<{ fingerprint: string }>(
    'SELECT fingerprint FROM seam_offline_issued WHERE device_id = ?',
    [deviceId],
  );
  return new Set(rows.map((row) => row.fingerprint));
}

/** An offline code the lock confirmed revoked: it leaves the API (removed_from_device). */
export function forgetOfflineCode(store: SeamStore, row: AccessCodeRow, now = Date.now()): Promise<void> {
  return store.sql.transaction(async () => {
    const gone = await store.sql.run('DELETE FROM seam_access_codes WHERE access_code_id = ?', [
      row.access_code_id,
    ]);
    if (gone.changes === 1)
      await recordEvent(store, {
        deviceId: row.device_id,
        type: 'access_code.removed_from_device',
        occurredAt: now,
        fields: { access_code_id: row.access_code_id },
      });
  });
}

/**
 * Time-bound codes whose `ends_at` has passed leave the lock (Seam removes them): each
 * is marked removed under its lock's next revision; returns the locks to publish.
 * Offline codes are left alone (their digits carry their end).
 */
export function removeEndedCodes(store: SeamStore, now = Date.now()): Promise<string[]> {
  return store.sql.transaction(async () => {
    // PostgreSQL: a second worker ending the same codes waits here, then finds them removed.
    const ended = await store.sql.all<AccessCodeRow>(
      `SELECT * FROM seam_access_codes WHERE ends_at IS NOT NULL AND ends_at <= ? AND removed_revision IS NULL
         AND offline_fingerprint IS NULL ORDER BY device_id, access_code_id${forUpdate(store)}`,
      [now],
    );
    const devices = [...new Set(ended.map((row) => row.device_id))];
    for (const deviceId of devices) {
      const device = await store.sql.get<DeviceRow>('SELECT * FROM seam_devices WHERE device_id = ?', [
        deviceId,
      ]);
      if (!device) continue;
      const revision = await declareRevision(store, device);
      for (const row of ended.filter((r) => r.device_id === deviceId))
        await store.sql.run('UPDATE seam_access_codes SET removed_revision = ? WHERE access_code_id = ?', [
          revision,
          row.access_code_id,
        ]);
    }
    return devices;
  });
}

/** The soonest `ends_at` still to act on, or null. */
export async function nextCodeEnd(store: SeamStore): Promise<number | null> {
  const row = await store.sql.get<{ ends_at: number | null }>(
    `SELECT min(ends_at) AS ends_at FROM seam_access_codes
     WHERE ends_at IS NOT NULL AND removed_revision IS NULL AND offline_fingerprint IS NULL`,
  );
  return row?.ends_at ?? null;
}
