import { DateTime } from 'luxon';
import { ok } from '../answer.ts';
import { countArg } from '../args.ts';
import { recentRows } from '../audit-scan.ts';
import { describeDecision } from '../decision-text.ts';
import type { CommandSpec } from '../registry.ts';
import { shortLocalTime } from '../time-format.ts';

export const why: CommandSpec = {
  name: 'why',
  usage: 'why [N]',
  summary: 'the last N keypad decisions in plain words (default 5)',
  details: [
    'Each line: local time, the code (by name, never its PIN), opened or refused with the reason.',
    'Reasons: unknown_code, malformed, lockout, mode_restricted, disabled, revoked,',
    'clock_untrusted, not_yet_active, expired, outside_schedule, used_up (docs/access-rules.md).',
  ],
  async run({ args, ctx, signal }) {
    const count = countArg(args, 'why [N]', 5, 100);
    const { firmware } = ctx;
    const rows = await recentRows(firmware.audit, (row) => row.type === 'decision', count, { signal });
    const now = firmware.manager.wallNow();
    const zone = firmware.manager.getSettings().timezone;
    const decisions = rows.map((row) => describeDecision(row, now, zone));
    return ok(decisions.length === 0 ? ['no decisions yet'] : decisions.map((d) => d.text), {
      timezone: zone,
      decisions,
    });
  },
};

/** key=value pairs; instants stored as epoch ms (starts_at, ends_at...) shown in the lock's zone. */
function fieldsText(data: Record<string, unknown>, zone: string): string {
  return Object.entries(data)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => {
      if (key.endsWith('_at') && typeof value === 'number' && value > 1e11) {
        return `${key}=${DateTime.fromMillis(value, { zone }).toFormat("yyyy-LL-dd'T'HH:mm")}`;
      }
      return `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    })
    .join(' ');
}

export const events: CommandSpec = {
  name: 'events',
  usage: 'events [N]',
  summary: 'the last N audit events of any kind (default 10)',
  details: ['Decisions, code and mode changes, clock trust, jams, door, lockouts, technician actions.'],
  run({ args, ctx }) {
    const count = countArg(args, 'events [N]', 10, 200);
    const { firmware } = ctx;
    const rows = firmware.audit.latest(count);
    const now = firmware.manager.wallNow();
    const zone = firmware.manager.getSettings().timezone;
    return ok(
      rows.length === 0
        ? ['no events yet']
        : rows.map(
            (row) =>
              `${String(row.seq).padStart(6)} ${shortLocalTime(row.at, now, zone, true).padStart(14)} ${row.type.padEnd(18)} ${fieldsText(row.data, zone)}`,
          ),
      {
        timezone: zone,
        events: rows.map((row) => ({
          seq: row.seq,
          at: new Date(row.at).toISOString(),
          type: row.type,
          data: row.data,
        })),
      },
    );
  },
};
