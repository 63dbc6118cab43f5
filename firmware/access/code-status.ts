import type { Credential } from './types.ts';

export type CodeStatus = 'active' | 'pending' | 'expired' | 'used_up' | 'disabled' | 'unassigned';

/**
 * Whether the lock must count a code's uses to decide on it: a one_time code, a use limit,
 * an expiry after first use. Only these write a use count on a grant; every other code's
 * uses are read from the audit log (firmware/store/codes.ts).
 */
export function countsUses(code: Pick<Credential, 'kind' | 'maxUses' | 'expireAfterFirstUseMin'>): boolean {
  return code.kind === 'one_time' || code.maxUses !== null || code.expireAfterFirstUseMin !== null;
}

/** Where a code stands at `now`, for listings (schedules are judged per entry, not here). */
export function codeStatus(code: Credential, now: number): CodeStatus {
  if (!code.assigned) return 'unassigned';
  if (!code.enabled || code.revoked) return 'disabled';
  if ((code.kind === 'one_time' && code.uses >= 1) || (code.maxUses !== null && code.uses >= code.maxUses))
    return 'used_up';
  if (code.endsAt !== null && now >= code.endsAt) return 'expired';
  if (code.expireAfterFirstUseMin !== null && code.firstUsedAt !== null) {
    if (now >= code.firstUsedAt + code.expireAfterFirstUseMin * 60_000) return 'expired';
  }
  if (code.startsAt !== null && now < code.startsAt) return 'pending';
  return 'active';
}
