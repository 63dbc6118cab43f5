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
import { unpackV2 } from '../../firmware/access/offline-layout-v2.ts';
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
  --version 1|2         the format version (default 1). Version 2 codes are 3 digits
                        longer (15 at the default length); what they add:
  --variant N           version 2: which of the distinct codes for the same slot
                        (one_time 0-4; hourly, daily, permanent, recurring 0-2; erase 0)
  --check-in HH:00      version 2 daily: local check-in hour on the --start date
  --check-out HH:00     version 2 daily: local check-out hour on the end date (default 00:00)
  --weeks N             version 2 recurring: life in weeks, a multiple of 4 from 4 to 52
                        (version 2 recurring takes any --days-of-week, e.g. mon,thu;
                        version 2 starts are whole local hours in any zone)
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
  version: '--version',
  variant: '--variant',
  checkIn: '--check-in',
  checkOut: '--check-out',
  weeks: '--weeks',
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
  const v2 = issued.version === 2 ? unpackV2(issued.kind, issued.fields.param) : undefined;
  const what =
    issued.kind === 'hourly'
      ? `hourly (${v2?.hours ?? issued.fields.param} h)`
      : issued.kind === 'daily'
        ? `daily (${v2?.days ?? issued.fields.param} days)`
        : issued.kind;
  const lines = [
    issued.grouped,
    `  device       ${deviceId}`,
    `  kind         ${what}${v2 ? `, version 2, variant ${issued.variant}` : ''}`,
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
    version: { type: 'string' },
    variant: { type: 'string' },
    'check-in': { type: 'string' },
    'check-out': { type: 'string' },
    weeks: { type: 'string' },
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
    ...(values.version !== undefined ? { version: wholeNumber(command, values.version, '--version')! } : {}),
    ...(values.variant !== undefined ? { variant: wholeNumber(command, values.variant, '--variant')! } : {}),
    ...(values['check-in'] !== undefined ? { checkIn: values['check-in'] } : {}),
    ...(values['check-out'] !== undefined ? { checkOut: values['check-out'] } : {}),
    ...(values.weeks !== undefined ? { weeks: wholeNumber(command, values.weeks, '--weeks')! } : {}),
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
    const v2 = issued.version === 2 ? unpackV2(issued.kind, issued.fields.param) : undefined;
    const out = {
      deviceId: record.deviceId,
      code: issued.code,
      grouped: issued.grouped,
      fingerprint: issued.fingerprint,
      kind: issued.kind,
      version: issued.version,
      variant: issued.variant,
      keyVersion: issued.keyVersion,
      length: issued.length,
      timezone: zone,
      validFrom: isoOrNull(issued.validFrom, zone),
      validUntil: isoOrNull(issued.validUntil, zone),
      activateBy: isoOrNull(issued.activateBy, zone),
      schedule: issued.schedule,
      ...(issued.kind === 'hourly' ? { hours: v2?.hours ?? issued.fields.param } : {}),
      ...(issued.kind === 'daily' ? { days: v2?.days ?? issued.fields.param } : {}),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(`${describe(issued, record.deviceId)}\n`);
  }
  return 0;
}
