import { DateTime } from 'luxon';
import {
  encodePlan,
  type IssuedOfflineCode,
  MAX_START_AHEAD_DAYS,
  type OfflineRequest,
  type OfflineRequestField,
  planOfflineCode,
} from '../../firmware/access/offline-issue.ts';
import {
  DAY_SETS,
  MAX_DAYS,
  MAX_HOURS,
  OFFLINE_KINDS,
  RECURRING_LIFE_DAYS,
} from '../../firmware/access/offline-layout.ts';
import { describeSchedule } from '../../firmware/access/schedule.ts';
import { parseFlags, parseIntFlag, requireFlag, UsageError } from '../../firmware/cli.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';

export const OFFLINE_CODE_HELP = `Usage: lockctl offline-code --provisioning FILE --kind KIND --start ISO [options]

Issues an offline code: the lock checks it with its own clock, no network needed
(docs/offline-codes.md). Prints the code grouped for people, its window and its
fingerprint (what revocation and the audit log name it by).

  --provisioning FILE   the lock's provisioning file (lockctl provision)
  --kind KIND           ${OFFLINE_KINDS.join(' | ')}
  --start ISO           one_time, hourly, erase: a whole hour, e.g. 2026-12-01T15:00+01:00
                        daily, permanent, recurring: a date, e.g. 2026-12-01
                        (no offset: the --timezone's local time)
  --hours N             hourly: 1-${MAX_HOURS}
  --days N              daily: 1-${MAX_DAYS}
  --days-of-week LIST   recurring: one of ${DAY_SETS.map((set) => set.join(',')).join(' | ')}
  --from HH:00          recurring: daily window start (whole hour)
  --to HH:00            recurring: daily window end (whole hour; 24:00 allowed; earlier than
                        --from runs past midnight)
  --timezone ZONE       the lock's IANA time zone (default UTC)
  --key-version N       the lock's offline key version (default 1; +1 after each erase code)
  --length L            code length, the lock's offlineCodeLength (default 12)
  --json                print the result as JSON

Rules: a code must be first used within 24 h of its start (recurring codes excepted,
they live ${RECURRING_LIFE_DAYS} days); the start may be at most ${MAX_START_AHEAD_DAYS} days ahead.`;

const FLAG_OF: Record<OfflineRequestField, string> = {
  kind: '--kind',
  start: '--start',
  hours: '--hours',
  days: '--days',
  daysOfWeek: '--days-of-week',
  from: '--from',
  to: '--to',
  timezone: '--timezone',
  length: '--length',
};

function wholeNumber(command: string, value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${command}: ${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function describe(issued: IssuedOfflineCode, deviceId: string): string {
  const at = (ms: number | null) =>
    ms === null ? 'no end' : DateTime.fromMillis(ms, { zone: issued.timezone }).toFormat('yyyy-LL-dd HH:mm');
  const what =
    issued.kind === 'hourly'
      ? `hourly (${issued.fields.param} h)`
      : issued.kind === 'daily'
        ? `daily (${issued.fields.param} days)`
        : issued.kind;
  const lines = [
    issued.grouped,
    `  device       ${deviceId}`,
    `  kind         ${what}`,
    `  valid        ${at(issued.validFrom)} to ${at(issued.validUntil)} ${issued.timezone}`,
  ];
  if (issued.schedule) lines.push(`  schedule     ${describeSchedule(issued.schedule, issued.timezone)}`);
  if (issued.activateBy !== null) lines.push(`  first use by ${at(issued.activateBy)} (or the code lapses)`);
  if (issued.kind === 'erase')
    lines.push('  effect       opens once and invalidates every earlier offline code (key version +1)');
  lines.push(`  fingerprint  ${issued.fingerprint}`, `  key version  ${issued.keyVersion}`);
  return lines.join('\n');
}

const isoOrNull = (ms: number | null, zone: string) =>
  ms === null ? null : DateTime.fromMillis(ms, { zone }).toISO();

export async function offlineCodeCommand(argv: string[]): Promise<number> {
  const command = 'lockctl offline-code';
  const { values, positionals } = parseFlags(command, argv, {
    provisioning: { type: 'string' },
    kind: { type: 'string' },
    start: { type: 'string' },
    hours: { type: 'string' },
    days: { type: 'string' },
    'days-of-week': { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    timezone: { type: 'string' },
    'key-version': { type: 'string' },
    length: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${OFFLINE_CODE_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const file = requireFlag(command, values.provisioning, '--provisioning', 'FILE');
  const kind = requireFlag(command, values.kind, '--kind', OFFLINE_KINDS.join('|'));
  const start = requireFlag(command, values.start, '--start', 'ISO-8601 date or date-time');
  const keyVersion = parseIntFlag(command, values['key-version'], '--key-version', 1, 0xffff_ffff) ?? 1;
  const request: OfflineRequest = {
    kind,
    start,
    ...(values.hours !== undefined ? { hours: wholeNumber(command, values.hours, '--hours')! } : {}),
    ...(values.days !== undefined ? { days: wholeNumber(command, values.days, '--days')! } : {}),
    ...(values['days-of-week'] !== undefined ? { daysOfWeek: values['days-of-week'] } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
  };
  const planned = planOfflineCode(request, {
    timezone: values.timezone ?? 'UTC',
    length: wholeNumber(command, values.length, '--length') ?? 12,
    now: Date.now(),
  });
  if (!planned.ok) {
    const flag = FLAG_OF[planned.field];
    throw new UsageError(`${command}: ${flag} ${planned.message.slice(planned.field.length + 2)}`);
  }
  const record = readProvisioning(file);
  const issued = encodePlan(record.secret, keyVersion, planned.plan);
  if (values.json) {
    const zone = issued.timezone;
    const out = {
      deviceId: record.deviceId,
      code: issued.code,
      grouped: issued.grouped,
      fingerprint: issued.fingerprint,
      kind: issued.kind,
      keyVersion: issued.keyVersion,
      length: issued.length,
      timezone: zone,
      validFrom: isoOrNull(issued.validFrom, zone),
      validUntil: isoOrNull(issued.validUntil, zone),
      activateBy: isoOrNull(issued.activateBy, zone),
      schedule: issued.schedule,
      ...(issued.kind === 'hourly' ? { hours: issued.fields.param } : {}),
      ...(issued.kind === 'daily' ? { days: issued.fields.param } : {}),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(`${describe(issued, record.deviceId)}\n`);
  }
  return 0;
}
