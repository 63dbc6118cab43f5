import type { Mode } from '../access/types.ts';
import type { Firmware } from '../firmware.ts';
import { eraseMatterUsers } from '../matter/users.ts';
import { offlineStore } from '../offline-path.ts';
import { resetLoginLockout } from './login-lockout.ts';

export interface FactoryResetResult {
  codesRemoved: number;
  offlineKey: { from: number; to: number };
  previousMode: Mode;
}

/**
 * Erases what a lock learned in service, through the lock manager in one transaction:
 * every code (backup pool too), the mode (back to normal, which ends passage's
 * hold-open), the keypad lockout, and here the offline-code state (by moving to the next
 * offline key version, so no code issued before the reset opens again, and a used
 * one-time code cannot be re-used), the console-login lockout, the Matter users and the
 * Matter fabrics (docs/matter.md: the lock is commissionable again). Keeps the device key,
 * the time zone, the clock and the audit log, where one `factory_reset` row says what
 * was erased.
 */
export async function factoryReset(firmware: Firmware, actor: string): Promise<FactoryResetResult> {
  if (typeof actor !== 'string' || actor.length === 0)
    throw new TypeError('actor must be a non-empty string');
  const { manager, db, state } = firmware;
  const result = await manager.factoryReset(actor, (at) => {
    const offlineKey = offlineStore(db).rotateKey(at);
    resetLoginLockout(state);
    // Matter users, and the fabrics (erased by the Matter node: firmware/matter/start.ts).
    const matterUsers = eraseMatterUsers(state);
    return {
      offline_key_from: offlineKey.from,
      offline_key_to: offlineKey.to,
      matter_users_removed: matterUsers,
    };
  });
  return {
    codesRemoved: result.codesRemoved,
    offlineKey: { from: result.erased.offline_key_from, to: result.erased.offline_key_to },
    previousMode: result.previousMode,
  };
}
