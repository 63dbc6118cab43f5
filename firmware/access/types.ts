export const CODE_KINDS = ['ongoing', 'time_bound', 'one_time', 'recurring'] as const;
export type CodeKind = (typeof CODE_KINDS)[number];

export const ROLES = ['standard', 'master', 'duress', 'non_access'] as const;
export type Role = (typeof ROLES)[number];

export const MODES = ['normal', 'vacation', 'privacy', 'passage'] as const;
export type Mode = (typeof MODES)[number];

/** The fixed set of refusal reasons shown to technicians and published in events. */
export const DENIAL_REASONS = [
  'unknown_code',
  'not_yet_active',
  'expired',
  'outside_schedule',
  'used_up',
  'disabled',
  'revoked',
  'lockout',
  'clock_untrusted',
  'mode_restricted',
  'malformed',
] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A weekly slot in the lock's time zone: on `days`, from `from` to `to` local wall time. */
export interface WeeklySchedule {
  days: Weekday[];
  /** "HH:MM", 00:00-23:59. */
  from: string;
  /** "HH:MM", 00:01-24:00; earlier than `from` means the slot runs past midnight. */
  to: string;
}

/**
 * What the decision needs to know about one credential: a stored code or a
 * validated offline code. Instants are Unix epoch milliseconds.
 */
export interface Credential {
  id: number;
  name: string;
  kind: CodeKind;
  role: Role;
  enabled: boolean;
  revoked: boolean;
  /** False for a backup-pool code that has not been handed out yet. */
  assigned: boolean;
  startsAt: number | null;
  endsAt: number | null;
  schedule: WeeklySchedule | null;
  maxUses: number | null;
  expireAfterFirstUseMin: number | null;
  uses: number;
  firstUsedAt: number | null;
  /** Set for a validated offline code: decisions then name its kind `offline`. */
  offline?: true;
}

export interface CodeRef {
  id: number;
  name: string;
  kind: CodeKind | 'offline';
  role: Role;
}

export type Decision =
  | { outcome: 'granted'; code: CodeRef; duress: boolean }
  | { outcome: 'denied'; reason: DenialReason; code?: CodeRef; detail?: string };
