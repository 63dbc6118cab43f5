import { describe, expect, it } from 'vitest';
import { judgeRemote, REMOTE_ACTORS, REMOTE_REFUSALS } from '../../firmware/access/remote.ts';
import { MODES } from '../../firmware/access/types.ts';

describe('remote lock and unlock: one rule for every adapter', () => {
  it('refuses locking in passage mode to everyone, and allows it in every other mode', () => {
    for (const actor of REMOTE_ACTORS)
      for (const mode of MODES)
        for (const homeAssistantUnlock of [false, true]) {
          const verdict = judgeRemote({ actor, target: 'locked', mode, homeAssistantUnlock });
          expect(verdict, `${actor} lock in ${mode}`).toEqual(
            mode === 'passage'
              ? { allowed: false, reason: 'passage_mode', message: expect.any(String) }
              : { allowed: true },
          );
        }
  });

  it('lets the gateway and a technician unlock in every mode', () => {
    for (const actor of ['gateway', 'technician'] as const)
      for (const mode of MODES)
        expect(judgeRemote({ actor, target: 'unlocked', mode, homeAssistantUnlock: false })).toEqual({
          allowed: true,
        });
  });

  it('lets Home Assistant unlock only when enabled, and never in vacation or privacy mode', () => {
    const table = MODES.map((mode) => [
      mode,
      judgeRemote({ actor: 'home_assistant', target: 'unlocked', mode, homeAssistantUnlock: false }),
      judgeRemote({ actor: 'home_assistant', target: 'unlocked', mode, homeAssistantUnlock: true }),
    ]);
    const reason = (v: { allowed: boolean; reason?: string }) => (v.allowed ? 'allowed' : v.reason);
    expect(table.map(([mode, off, on]) => [mode, reason(off as never), reason(on as never)])).toEqual([
      ['normal', 'remote_unlock_disabled', 'allowed'],
      ['vacation', 'remote_unlock_disabled', 'mode_restricted'],
      ['privacy', 'remote_unlock_disabled', 'mode_restricted'],
      ['passage', 'remote_unlock_disabled', 'allowed'],
    ]);
  });

  it('lets a Matter controller unlock without a PIN only outside vacation and privacy mode', () => {
    const reason = (v: { allowed: boolean; reason?: string }) => (v.allowed ? 'allowed' : v.reason);
    expect(
      MODES.map((mode) => [
        mode,
        reason(judgeRemote({ actor: 'matter', target: 'unlocked', mode, homeAssistantUnlock: true })),
      ]),
    ).toEqual([
      ['normal', 'allowed'],
      ['vacation', 'mode_restricted'],
      ['privacy', 'mode_restricted'],
      ['passage', 'allowed'],
    ]);
  });

  it('names every refusal from the one fixed set', () => {
    for (const actor of REMOTE_ACTORS)
      for (const mode of MODES)
        for (const target of ['locked', 'unlocked'] as const)
          for (const homeAssistantUnlock of [false, true]) {
            const verdict = judgeRemote({ actor, target, mode, homeAssistantUnlock });
            if (!verdict.allowed) expect(REMOTE_REFUSALS).toContain(verdict.reason);
          }
  });
});
