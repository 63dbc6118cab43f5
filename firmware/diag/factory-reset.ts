import { INITIAL_LOCKOUT } from '../access/lockout.ts';
import type { Mode } from '../access/types.ts';
import type { Firmware } from '../firmware.ts';
import { offlineStore } from '../offline-path.ts';
import { LoginLockout } from './login-lockout.ts';

export interface FactoryResetResult {
  codesRemoved: number;
  offlineKey: { from: number; to: number };
  previousMode: Mode;
}

/**
 * Erases what a lock learned in service, in one transaction: every code (backup pool
 * too), the offline-code state (by moving to the next offline key version, so no code
 * issued before the reset opens again, and a used one-time code cannot be re-used),
 * the mode (back to normal), the keypad and console-login lockouts. Keeps the device
 * key, the time zone, the clock and the audit log, where one `factory_reset` row says
 * what was erased.
 */
export async function factoryReset(firmware: Firmware, actor: string): Promise<FactoryResetResult> {
  if (typeof actor !== 'string' || actor.length === 0)
    throw new TypeError('actor must be a non-empty string');
  const { manager, db, state, codes } = firmware;
  const at = (await manager.refreshClock()).epochMs;
  const settings = manager.getSettings();
  const result = db
    .transaction((): FactoryResetResult => {
      let codesRemoved = 0;
      for (const code of codes.list()) if (codes.remove(code.id)) codesRemoved++;
      const offlineKey = offlineStore(db).rotateKey(at);
      state.set('lockout', INITIAL_LOCKOUT);
      state.set('settings', { ...settings, mode: 'normal' });
      new LoginLockout(state).reset();
      manager.record(
        'factory_reset',
        {
          by: actor,
          codes_removed: codesRemoved,
          offline_key_from: offlineKey.from,
          offline_key_to: offlineKey.to,
          previous_mode: settings.mode,
        },
        at,
      );
      return { codesRemoved, offlineKey, previousMode: settings.mode };
    })
    .immediate();
  manager.resetLockout();
  // The manager holds the mode in memory as well; this also ends passage's hold-open.
  await manager.setMode('normal', actor);
  return result;
}
