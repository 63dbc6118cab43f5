import { expiryTime } from './clock-correction.ts';
import { withinSchedule } from './schedule.ts';
import type { CodeRef, Credential, Decision, DenialReason, Mode } from './types.ts';

export interface DecisionInput {
  /** The digits entered (no `#`). */
  entry: string;
  /** Entry lengths a credential can have: stored PINs and the offline code lengths (versions 1 and 2). */
  acceptedLengths: { min: number; max: number; offline: number; offlineV2?: number };
  /**
   * The credential the entry names (a stored code whose keyed hash matched, or a
   * verified offline code), or undefined when none does.
   */
  credential: Credential | undefined;
  /** Wall time (epoch ms) and whether the clock is trusted. */
  now: number;
  clockTrusted: boolean;
  /**
   * The latest trusted time the lock has ever seen (0 before any). Ends are judged at
   * no earlier time, so moving the clock back never re-opens an expired code
   * (firmware/access/clock-correction.ts).
   */
  highWater: number;
  lockedOut: boolean;
  mode: Mode;
  timezone: string;
  /** Tolerance on window and schedule edges for small clock drift. */
  graceMs: number;
}

const denied = (reason: DenialReason, code?: CodeRef, detail?: string): Decision =>
  code ? { outcome: 'denied', reason, code, ...(detail ? { detail } : {}) } : { outcome: 'denied', reason };

export function codeRef(credential: Credential): CodeRef {
  return {
    id: credential.id,
    name: credential.name,
    kind: credential.offline ? 'offline' : credential.kind,
    role: credential.role,
  };
}

/** Whether judging this credential needs the wall clock. */
export function isTimeDependent(credential: Credential): boolean {
  return (
    credential.startsAt !== null ||
    credential.endsAt !== null ||
    credential.schedule !== null ||
    credential.expireAfterFirstUseMin !== null
  );
}

/**
 * The access decision: a pure function of the credential the entry matched, the
 * trusted time, the lockout state and the mode. Checks run in a fixed order so the
 * reason names the first thing that stands in the way (docs/access-rules.md).
 */
export function decide(input: DecisionInput): Decision {
  const { entry, acceptedLengths: lengths, credential: c, now, graceMs } = input;
  const lengthOk =
    /^\d+$/.test(entry) &&
    ((entry.length >= lengths.min && entry.length <= lengths.max) ||
      entry.length === lengths.offline ||
      entry.length === lengths.offlineV2);
  if (!lengthOk) return denied('malformed');
  if (input.lockedOut) return denied('lockout');
  if (!c) return denied('unknown_code');
  const ref = codeRef(c);
  if ((input.mode === 'vacation' || input.mode === 'privacy') && c.role !== 'master') {
    return denied('mode_restricted', ref, `${input.mode} mode admits master codes only`);
  }
  if (!c.enabled) return denied('disabled', ref);
  if (!c.assigned) return denied('disabled', ref, 'backup code not assigned');
  if (c.revoked) return denied('revoked', ref);
  if (c.role === 'non_access') return denied('disabled', ref, 'non_access code: recorded, never opens');
  if (isTimeDependent(c) && !input.clockTrusted) return denied('clock_untrusted', ref);
  if (c.startsAt !== null && now < c.startsAt - graceMs) return denied('not_yet_active', ref);
  const expiryNow = expiryTime(now, input.highWater);
  if (c.endsAt !== null && expiryNow >= c.endsAt + graceMs) return denied('expired', ref);
  if (c.expireAfterFirstUseMin !== null && c.firstUsedAt !== null) {
    if (expiryNow >= c.firstUsedAt + c.expireAfterFirstUseMin * 60_000 + graceMs) {
      return denied('expired', ref, `expired ${c.expireAfterFirstUseMin} min after first use`);
    }
  }
  if (c.schedule && !withinSchedule(c.schedule, now, input.timezone, graceMs))
    return denied('outside_schedule', ref);
  if (c.kind === 'one_time' && c.uses >= 1) return denied('used_up', ref);
  if (c.maxUses !== null && c.uses >= c.maxUses) return denied('used_up', ref);
  return { outcome: 'granted', code: ref, duress: c.role === 'duress' };
}

/** Refusals that count toward the keypad lockout: guesses, not policy. */
export function countsAsWrongEntry(decision: Decision): boolean {
  return (
    decision.outcome === 'denied' && (decision.reason === 'unknown_code' || decision.reason === 'malformed')
  );
}
