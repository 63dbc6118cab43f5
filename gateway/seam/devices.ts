import { randomUUID } from 'node:crypto';
import { PIN_MAX_LENGTH, PIN_MIN_LENGTH } from '../../firmware/access/code-spec.ts';
import { LOCK_IMAGE_ALT_TEXT, LOCK_IMAGE_URL } from './device-image.ts';
import { iso, type SeamStore } from './store.ts';

/**
 * Seam's `device_type` enum has no value for a Tumbler lock; this one value is the
 * documented deviation (docs/seam-api.md).
 */
export const TUMBLER_DEVICE_TYPE = 'tumbler_lock';

/** A Tumbler lock as the Seam tables know it: its Seam id and what it last told us. */
export interface DeviceRow {
  device_id: string;
  seam_device_id: string;
  created_at: number;
  online: number;
  online_since: number | null;
  offline_since: number | null;
  lock_state: string | null;
  reported_revision: number;
  reported_codes: string | null;
  reported_at: number | null;
  /** The latest desired/codes revision the API declared for this lock (0: none yet). */
  declared_revision: number;
  /** The lock's last `list_codes` answer (JSON; gateway/seam/lock-codes.ts), or null. */
  lock_codes: string | null;
}

/** A code's entry in the lock's reported/codes (docs/protocol.md). */
export interface ReportedCode {
  ref: string;
  status: 'set' | 'pending' | 'error';
  error?: string;
  message?: string;
}

/**
 * Gives every lock registered with the gateway (lockctl provision / device add) a Seam
 * device id (the first worker to see it; the others keep that one).
 */
export async function syncDevices(store: SeamStore, now = Date.now()): Promise<void> {
  const known = await store.sql.all<{ device_id: string }>(
    'SELECT d.device_id FROM devices d LEFT JOIN seam_devices s ON s.device_id = d.device_id WHERE s.device_id IS NULL',
  );
  for (const { device_id } of known)
    await store.sql.run(
      'INSERT INTO seam_devices (device_id, seam_device_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      [device_id, randomUUID(), now],
    );
}

export async function allDevices(store: SeamStore): Promise<DeviceRow[]> {
  await syncDevices(store);
  return store.sql.all<DeviceRow>('SELECT * FROM seam_devices ORDER BY created_at, device_id');
}

/** By Seam device id (what API callers use). */
export async function deviceBySeamId(store: SeamStore, seamDeviceId: string): Promise<DeviceRow | undefined> {
  await syncDevices(store);
  return store.sql.get<DeviceRow>('SELECT * FROM seam_devices WHERE seam_device_id = ?', [seamDeviceId]);
}

/** By Tumbler device id (what the lock and MQTT use). */
export async function deviceByLockId(store: SeamStore, deviceId: string): Promise<DeviceRow | undefined> {
  const byId = 'SELECT * FROM seam_devices WHERE device_id = ?';
  const row = await store.sql.get<DeviceRow>(byId, [deviceId]);
  if (row) return row;
  await syncDevices(store); // registered since the last look (lockctl provision)
  return store.sql.get<DeviceRow>(byId, [deviceId]);
}

export function reportedCodes(device: DeviceRow): ReportedCode[] {
  return device.reported_codes ? (JSON.parse(device.reported_codes) as ReportedCode[]) : [];
}

/** Seam's `device_disconnected` error, for an offline lock (on the device and on its codes). */
export function disconnectedError(device: DeviceRow) {
  return {
    error_code: 'device_disconnected' as const,
    is_device_error: true as const,
    message: `lock ${device.device_id} is offline (its broker connection dropped); changes reach it when it reconnects`,
    created_at: iso(device.offline_since ?? device.created_at),
  };
}

/** A Tumbler lock as a Seam device (also the `lock` of locks/get). */
export function toSeamDevice(store: SeamStore, device: DeviceRow) {
  const online = device.online === 1;
  return {
    device_id: device.seam_device_id,
    device_type: TUMBLER_DEVICE_TYPE,
    display_name: device.device_id,
    nickname: device.device_id,
    space_ids: [],
    capabilities_supported: ['access_code', 'lock'],
    properties: {
      online,
      locked: device.lock_state === 'locked',
      name: device.device_id,
      appearance: { name: device.device_id },
      image_url: LOCK_IMAGE_URL,
      image_alt_text: LOCK_IMAGE_ALT_TEXT,
      manufacturer: 'tumbler',
      model: {
        // Shown after the manufacturer's name ("Tumbler Keypad lock").
        display_name: 'Keypad lock',
        manufacturer_display_name: 'Tumbler',
        has_built_in_keypad: true,
        can_connect_accessory_keypad: false,
      },
      has_native_entry_events: true,
      online_access_codes_enabled: true,
      offline_access_codes_enabled: true,
      supports_backup_access_code_pool: true,
      supported_code_lengths: Array.from(
        { length: PIN_MAX_LENGTH - PIN_MIN_LENGTH + 1 },
        (_, i) => PIN_MIN_LENGTH + i,
      ),
    },
    location: null,
    connected_account_id: store.workspace.connectedAccountId,
    workspace_id: store.workspace.workspaceId,
    errors: online ? [] : [disconnectedError(device)],
    warnings: [],
    created_at: iso(device.created_at),
    is_managed: true as const,
    custom_metadata: {},
    can_remotely_lock: true,
    can_remotely_unlock: true,
    can_program_online_access_codes: true,
    can_program_offline_access_codes: true,
    can_unlock_with_code: true,
  };
}
