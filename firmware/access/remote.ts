import type { Mode } from './types.ts';

/** Who may move the bolt without a keypad entry. */
export const REMOTE_ACTORS = ['gateway', 'home_assistant', 'technician', 'matter'] as const;
export type RemoteActor = (typeof REMOTE_ACTORS)[number];

export type RemoteTarget = 'locked' | 'unlocked';

/**
 * The fixed set of refusals of a remote lock or unlock: the same codes on every adapter
 * (gateway `cmd/res`, Home Assistant's attributes, the serial console, the audit log).
 */
export const REMOTE_REFUSALS = ['passage_mode', 'mode_restricted', 'remote_unlock_disabled'] as const;
export type RemoteRefusal = (typeof REMOTE_REFUSALS)[number];

export interface RemoteRequest {
  actor: RemoteActor;
  target: RemoteTarget;
  /** The lock's operating mode now. */
  mode: Mode;
  /** Whether this installation lets Home Assistant unlock (mqtt.homeAssistant.allowUnlock). */
  homeAssistantUnlock: boolean;
}

export type RemoteVerdict = { allowed: true } | { allowed: false; reason: RemoteRefusal; message: string };

/**
 * Whether a remote lock or unlock may run (docs/access-rules.md, "Remote lock and
 * unlock"). Pure: LockManager.actuate applies it, audits the outcome and moves the bolt.
 *
 * - Locking is refused to everyone in `passage` mode: passage holds the bolt open, so a
 *   lock would be audited while the door stays open. Leaving passage locks.
 * - The gateway (signed commands) and a logged-in technician may unlock in every mode.
 * - Home Assistant cannot sign: it may unlock only where the installation enabled it,
 *   and never in `vacation` or `privacy` mode (the modes that admit master codes only).
 * - A Matter controller without a PIN (matter.requirePinForRemoteOperation off) is a
 *   fabric member, not a person at the door: never in `vacation` or `privacy` mode either.
 *   With a PIN, Matter goes through the keypad decision instead of this rule.
 */
export function judgeRemote(request: RemoteRequest): RemoteVerdict {
  const { actor, target, mode } = request;
  if (target === 'locked') {
    if (mode === 'passage')
      return refuse('passage_mode', 'passage mode holds the lock open; set the mode to normal first');
    return { allowed: true };
  }
  if (actor === 'matter') {
    if (mode === 'vacation' || mode === 'privacy')
      return refuse('mode_restricted', `a Matter controller may not unlock without a PIN in ${mode} mode`);
    return { allowed: true };
  }
  if (actor !== 'home_assistant') return { allowed: true };
  if (!request.homeAssistantUnlock)
    return refuse(
      'remote_unlock_disabled',
      'unlocking from Home Assistant is not enabled (mqtt.homeAssistant.allowUnlock)',
    );
  if (mode === 'vacation' || mode === 'privacy')
    return refuse('mode_restricted', `Home Assistant may not unlock in ${mode} mode`);
  return { allowed: true };
}

function refuse(reason: RemoteRefusal, message: string): RemoteVerdict {
  return { allowed: false, reason, message };
}
