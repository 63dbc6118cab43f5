import { DateTime } from 'luxon';
import type { AuditRow } from '../../firmware/store/audit.ts';

/** Everything the keypad screen shows, from either the in-process lock or a socket. */
export interface LockView {
  wallMs: number;
  timezone: string;
  clockTrusted: boolean;
  lock: string;
  mode: string;
  door: string;
  led: string;
  beep: string | null;
  jammed: boolean;
  entryLength: number;
  lockoutUntil: number | null;
  recent: AuditRow[];
}

export type Action =
  | { type: 'press'; keys: string }
  | { type: 'advance'; ms: number }
  | { type: 'toggle_jam' }
  | { type: 'toggle_door' }
  | { type: 'rtc_lost' }
  | { type: 'sync_time' }
  | { type: 'next_mode' }
  | { type: 'power_cycle' };

/** Where the view comes from and where actions go: SimLock in-process, or a control socket. */
export interface ViewSource {
  snapshot(): Promise<LockView>;
  act(action: Action): Promise<string | undefined>;
  close(): Promise<void>;
}

const LED_GLYPH: Record<string, string> = {
  off: '\x1b[90m○ off\x1b[0m',
  green: '\x1b[32m● green\x1b[0m',
  red: '\x1b[31m● red\x1b[0m',
  amber: '\x1b[33m● amber\x1b[0m',
  blue: '\x1b[34m● blue\x1b[0m',
};

const LOCK_COLOUR: Record<string, string> = {
  locked: '\x1b[1;32m',
  unlocked: '\x1b[1;33m',
  jammed: '\x1b[1;31m',
};

function describeRow(row: AuditRow): string {
  const d = row.data;
  switch (row.type) {
    case 'decision':
      return d.outcome === 'granted'
        ? `\x1b[32mgranted\x1b[0m  ${d.code_name ?? ''}`
        : `\x1b[31mdenied\x1b[0m   ${d.reason}${d.code_name ? ` (code "${d.code_name}")` : ''}${d.detail ? `: ${d.detail}` : ''}`;
    case 'lock_state':
      return `lock ${d.state}`;
    case 'lockout':
      return `\x1b[31mkeypad lockout\x1b[0m ${d.seconds}s (${d.cause})`;
    case 'jammed':
      return `\x1b[31mmotor jammed\x1b[0m driving ${d.target}, ${d.attempts} attempts`;
    default: {
      const fields = Object.entries(d)
        .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      return `${row.type} ${fields}`;
    }
  }
}

export const KEY_HELP =
  'keys 0-9 * #  (Enter = #, Backspace = *)   h +1 hour   d +1 day   j jam/unjam motor   o open/close door\n' +
  ' r RTC battery lost   t technician sets the time   v next mode   p power cut   q quit';

/** The whole screen as text with ANSI colours (plain VT100, redrawn from the top). */
export function renderView(view: LockView, banner: string, message: string | undefined): string {
  const time = DateTime.fromMillis(view.wallMs, { zone: view.timezone });
  const trust = view.clockTrusted ? '\x1b[32mtrusted\x1b[0m' : '\x1b[31mUNTRUSTED\x1b[0m';
  const lockText = `${LOCK_COLOUR[view.lock] ?? '\x1b[1m'}${view.lock.toUpperCase()}\x1b[0m`;
  const entry = view.entryLength > 0 ? '•'.repeat(view.entryLength) : '\x1b[90m(type a code, then #)\x1b[0m';
  const lockout =
    view.lockoutUntil !== null && view.lockoutUntil > view.wallMs
      ? `\x1b[31mlocked out for ${Math.ceil((view.lockoutUntil - view.wallMs) / 1000)}s\x1b[0m`
      : 'no';
  const pad = (text: string, width: number) =>
    text + ' '.repeat(Math.max(0, width - text.replace(/\x1b\[[0-9;]*m/g, '').length));
  const lines = [
    `\x1b[1mTumbler keypad simulator\x1b[0m   ${time.toFormat('ccc yyyy-LL-dd HH:mm:ss')} ${view.timezone} (${trust})`,
    '',
    ` ┌───────────┐   ${pad(`Lock:  ${lockText}`, 30)} Mode:   ${view.mode}`,
    ` │ 1   2   3 │   ${pad(`Door:  ${view.door}`, 30)} LED:    ${LED_GLYPH[view.led] ?? view.led}`,
    ` │ 4   5   6 │   ${pad(`Motor: ${view.jammed ? '\x1b[31mjammed (fault on)\x1b[0m' : 'ok'}`, 30)} Buzzer: ${view.beep ?? '-'}`,
    ` │ 7   8   9 │   ${pad(`Entry: ${entry}`, 30)} Lockout: ${lockout}`,
    ' │ *   0   # │',
    ' └───────────┘',
    '',
    '\x1b[1mRecent\x1b[0m',
    ...view.recent
      .slice(-10)
      .map(
        (row) =>
          `  ${DateTime.fromMillis(row.at, { zone: view.timezone }).toFormat('LL-dd HH:mm:ss')}  ${describeRow(row)}`,
      ),
    '',
    banner,
    message ? `\x1b[36m${message}\x1b[0m` : '',
    `\x1b[90m ${KEY_HELP}\x1b[0m`,
  ];
  return `\x1b[H\x1b[2J${lines.join('\n')}\n`;
}
