import { parseLockoutState } from '../access/lockout.ts';
import { parseClockRecord } from '../clock.ts';
import { parseSettings } from '../lock-manager.ts';
import { parseSyncState } from '../sync/desired.ts';
import { parseStoreOrigin, STORE_ORIGIN_KEY } from './binding.ts';
import type { StateParser } from './state.ts';

const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every key the state table holds, with its owner's parser. A key missing here cannot be read or written. */
export const STATE_KEYS: Readonly<Record<string, StateParser>> = {
  boot: (value) =>
    isObject(value) && typeof (value as { id?: unknown }).id === 'string' ? value : undefined,
  clock: parseClockRecord,
  lockout: parseLockoutState,
  settings: parseSettings,
  sync: parseSyncState,
  // The console login lockout checks its own fields and fails closed (firmware/diag/login-lockout.ts).
  diag_login: (value) => (isObject(value) ? value : undefined),
  // Matter users and their PIN slots (firmware/matter/users.ts checks each field and fails closed).
  matter_users: (value) =>
    isObject(value) && Array.isArray((value as { users?: unknown }).users) ? value : undefined,
  [STORE_ORIGIN_KEY]: parseStoreOrigin,
};
