import type { AuditRow } from '../store/audit.ts';
import { shortLocalTime } from './time-format.ts';

/** Plain words for each denial reason, for when the decision carries no detail of its own. */
const EXPLANATIONS: Record<string, string> = {
  unknown_code: 'no code has this PIN',
  malformed: 'not 4-10 digits (nor an offline code)',
  lockout: 'the keypad was locked out after wrong entries',
  mode_restricted: 'vacation or privacy mode: master codes only',
  disabled: 'the code is switched off',
  revoked: 'the gateway revoked this offline code',
  clock_untrusted: 'the code depends on time and the clock is untrusted; set the time (time set)',
  not_yet_active: 'its window has not begun',
  expired: 'its window has ended',
  outside_schedule: 'outside its weekly slot',
  used_up: 'its uses are used up',
};

export interface DecisionSummary {
  seq: number;
  at: string;
  outcome: 'granted' | 'denied';
  reason: string | null;
  code_name: string | null;
  detail: string | null;
  clock_trusted: boolean;
  source: string;
  text: string;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/**
 * One decision row in plain words, in the lock's time zone:
 * `14:03 code "cleaner" refused: outside_schedule (Tue 10:00-12:00 Europe/Berlin; now Tue 12:03)`.
 */
export function describeDecision(row: AuditRow, now: number, zone: string): DecisionSummary {
  const data = row.data;
  const outcome = data.outcome === 'granted' ? 'granted' : 'denied';
  const reason = str(data.reason);
  const name = str(data.code_name);
  const detail = str(data.detail);
  const source = str(data.source) ?? 'keypad';
  const clockTrusted = data.clock_trusted !== false;
  const who = name === null ? 'entry' : `code "${name}"`;
  let text = `${shortLocalTime(row.at, now, zone)} ${who} `;
  if (outcome === 'granted') {
    text += 'opened';
  } else {
    const why = detail ?? (reason ? EXPLANATIONS[reason] : undefined);
    text += `refused: ${reason ?? 'unknown'}${why ? ` (${why})` : ''}`;
  }
  if (source !== 'keypad') text += ` [via ${source}]`;
  if (!clockTrusted && reason !== 'clock_untrusted') text += ' [clock untrusted]';
  return {
    seq: row.seq,
    at: new Date(row.at).toISOString(),
    outcome,
    reason,
    code_name: name,
    detail,
    clock_trusted: clockTrusted,
    source,
    text,
  };
}
