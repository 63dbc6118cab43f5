import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { codeNameSchema, toEpochMs } from '../access/code-spec.ts';
import { codeStatus } from '../access/code-status.ts';
import { dstGapWarning } from '../access/dst-gap.ts';
import { describeSchedule } from '../access/schedule.ts';
import { CodeAdmin } from '../admin.ts';
import { parseFlags, parseIntFlag, requireFlag, UsageError } from '../cli.ts';
import { loadConfig } from '../config.ts';
import { TumblerError } from '../errors.ts';
import { checkDataDir, openStore } from '../firmware.ts';
import { safeJson, safeText } from '../safe-text.ts';
import type { CodeRecord } from '../store/codes.ts';

export const CODES_HELP = `Usage: lockfw codes <add|list|remove|enable|disable|backup> --data DIR [options]

Administers the codes of a lock's data dir. A running lockfw on the same dir sees
changes at once (they share the SQLite file).

  lockfw codes add --data DIR --name NAME (--pin DIGITS | --pin-stdin) [rules]
      --kind ongoing|time_bound|one_time|recurring   (default ongoing)
      --role standard|master|duress|non_access       (default standard)
      --starts-at ISO --ends-at ISO                  window (time_bound; optional for one_time, recurring)
      --days mon,tue,... --from HH:MM --to HH:MM     weekly schedule (recurring), lock's time zone
      --max-uses N                                   use limit
      --expire-after-first-use MINUTES               expires N minutes after the first grant
      --disabled                                     add it switched off
  lockfw codes list --data DIR [--json]
  lockfw codes remove --data DIR --id N
  lockfw codes enable|disable --data DIR --id N
  lockfw codes backup add --data DIR (--pin DIGITS | --pin-stdin)
  lockfw codes backup list --data DIR [--json]
  lockfw codes backup assign --data DIR --id N --name NAME --starts-at ISO --ends-at ISO

PINs are 4 to 10 digits. --pin-stdin reads the PIN from standard input so it stays
out of the shell history and the process list. The lock stores only a keyed hash.
Common options: --config FILE (for codeCapacity), --json (machine-readable output).
Exit status: 0 done, 1 refused (e.g. duplicate_code, no_space), 2 bad usage.`;

const COMMON = {
  data: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function readPin(command: string, pin: string | undefined, fromStdin: boolean | undefined): string {
  if (pin !== undefined && fromStdin) throw new UsageError(`${command}: give --pin or --pin-stdin, not both`);
  if (fromStdin) return readFileSync(0, 'utf8').trim();
  return requireFlag(command, pin, '--pin', 'DIGITS (or --pin-stdin)');
}

function formatInstant(ms: number | null): string {
  return ms === null ? '-' : DateTime.fromMillis(ms).toUTC().toISO({ suppressMilliseconds: true })!;
}

export function describeCode(code: CodeRecord, now: number, timezone: string) {
  return {
    id: code.id,
    name: code.name,
    kind: code.kind,
    role: code.role,
    status: codeStatus(code, now),
    starts_at: code.startsAt === null ? null : formatInstant(code.startsAt),
    ends_at: code.endsAt === null ? null : formatInstant(code.endsAt),
    schedule: code.schedule ? describeSchedule(code.schedule, timezone) : null,
    uses: code.uses,
    max_uses: code.maxUses,
    expire_after_first_use: code.expireAfterFirstUseMin,
    source: code.source,
  };
}

function printCodes(codes: CodeRecord[], json: boolean | undefined, timezone: string): void {
  const now = Date.now();
  const rows = codes.map((code) => describeCode(code, now, timezone));
  if (json) {
    process.stdout.write(`${safeJson(rows)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no codes\n');
    return;
  }
  for (const row of rows) {
    const window =
      row.schedule ??
      (row.starts_at || row.ends_at ? `${row.starts_at ?? '-'} .. ${row.ends_at ?? '-'}` : '');
    const uses = row.max_uses !== null ? `${row.uses}/${row.max_uses}` : String(row.uses);
    process.stdout.write(
      `${String(row.id).padStart(4)}  ${safeText(row.name).padEnd(20)} ${row.kind.padEnd(10)} ${row.role.padEnd(10)} ${row.status.padEnd(10)} uses ${uses.padEnd(6)} ${window}\n`,
    );
  }
}

export async function codesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${CODES_HELP}\n`);
    return sub ? 0 : 2;
  }
  const command = `lockfw codes ${sub}`;
  const flags = {
    ...COMMON,
    name: { type: 'string' },
    pin: { type: 'string' },
    'pin-stdin': { type: 'boolean' },
    kind: { type: 'string' },
    role: { type: 'string' },
    'starts-at': { type: 'string' },
    'ends-at': { type: 'string' },
    days: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'max-uses': { type: 'string' },
    'expire-after-first-use': { type: 'string' },
    disabled: { type: 'boolean' },
    id: { type: 'string' },
  } as const;
  const isBackup = sub === 'backup';
  const backupSub = isBackup ? rest[0] : undefined;
  const { values, positionals } = parseFlags(
    isBackup ? `${command} ${backupSub ?? ''}`.trim() : command,
    isBackup ? rest.slice(1) : rest,
    flags,
  );
  if (values.help) {
    process.stdout.write(`${CODES_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `${command}: unexpected argument ${JSON.stringify(positionals[0])} (see lockfw codes --help)`,
    );
  const dataDir = requireFlag(command, values.data, '--data', 'DIR');
  checkDataDir(dataDir, false);
  const config = loadConfig({ ...(values.config ? { file: values.config } : {}), env: process.env });
  const store = openStore(dataDir, { init: false });
  try {
    const admin = new CodeAdmin(store.db, store.codes, store.audit, config.codeCapacity);
    const now = Date.now();
    const by = 'local_admin';
    const id = () =>
      parseIntFlag(
        command,
        requireFlag(command, values.id, '--id', 'N'),
        '--id',
        1,
        Number.MAX_SAFE_INTEGER,
      )!;
    const report = (
      result: { ok: true; code: CodeRecord } | { ok: false; error: string; message: string },
    ) => {
      if (!result.ok) {
        if (values.json)
          process.stdout.write(
            `${JSON.stringify({ ok: false, error: result.error, message: result.message })}\n`,
          );
        else process.stderr.write(`${command}: refused: ${result.error}: ${result.message}\n`);
        return 1;
      }
      const described = describeCode(result.code, now, config.timezone);
      if (values.json) process.stdout.write(`${safeJson({ ok: true, code: described })}\n`);
      else
        process.stdout.write(
          `added code ${result.code.id} "${safeText(result.code.name)}" (${result.code.kind}, ${described.status})\n`,
        );
      return 0;
    };
    switch (sub) {
      case 'add': {
        const pin = readPin(command, values.pin, values['pin-stdin']);
        const spec: Record<string, unknown> = {
          name: requireFlag(command, values.name, '--name', 'NAME'),
          pin,
          ...(values.kind ? { kind: values.kind } : {}),
          ...(values.role ? { role: values.role } : {}),
          ...(values.disabled ? { enabled: false } : {}),
          ...(values['starts-at'] ? { starts_at: values['starts-at'] } : {}),
          ...(values['ends-at'] ? { ends_at: values['ends-at'] } : {}),
        };
        if (values.days || values.from || values.to) {
          spec.schedule = {
            days: requireFlag(command, values.days, '--days', 'mon,tue,...')
              .split(',')
              .map((d) => d.trim().toLowerCase()),
            from: requireFlag(command, values.from, '--from', 'HH:MM'),
            to: requireFlag(command, values.to, '--to', 'HH:MM'),
          };
        }
        const maxUses = parseIntFlag(command, values['max-uses'], '--max-uses', 1, 1_000_000);
        if (maxUses !== undefined) spec.max_uses = maxUses;
        const expire = parseIntFlag(
          command,
          values['expire-after-first-use'],
          '--expire-after-first-use',
          1,
          525_600,
        );
        if (expire !== undefined) spec.expire_after_first_use = expire;
        const result = admin.add(spec, by, now);
        if (!result.ok && (result.error === 'invalid_code' || result.error === 'invalid_window')) {
          throw new UsageError(
            `${command}: ${result.message.replace(/^pin: .*$/, 'pin: must be 4 to 10 digits')}`,
          );
        }
        const warning = result.ok ? dstGapWarning(result.code, config.timezone, now) : null;
        if (warning) process.stderr.write(`${command}: warning: ${warning}\n`);
        return report(result);
      }
      case 'list':
        printCodes(store.codes.list(), values.json, config.timezone);
        return 0;
      case 'remove': {
        const removed = admin.remove(id(), by, now);
        if (!removed) throw new TumblerError('not_found', `no code with id ${values.id}`);
        process.stdout.write(
          values.json
            ? `${JSON.stringify({ ok: true, removed: removed.id })}\n`
            : `removed code ${removed.id} "${safeText(removed.name)}"\n`,
        );
        return 0;
      }
      case 'enable':
      case 'disable': {
        const result = admin.setEnabled(id(), sub === 'enable', by, now);
        if (!result.ok && result.error === 'not_found')
          throw new TumblerError('not_found', `no code with id ${values.id}`);
        if (!result.ok) return report(result);
        const { code } = result;
        process.stdout.write(
          values.json
            ? `${JSON.stringify({ ok: true, id: code.id, enabled: code.enabled })}\n`
            : `${sub}d code ${code.id} "${safeText(code.name)}"\n`,
        );
        return 0;
      }
      case 'backup': {
        if (backupSub === 'add')
          return report(admin.addBackup(readPin(command, values.pin, values['pin-stdin']), by, now) as never);
        if (backupSub === 'list') {
          const pool = store.codes.list().filter((code) => code.source === 'backup');
          const unassigned = pool.filter((code) => !code.assigned).length;
          if (!values.json)
            process.stdout.write(`backup pool: ${pool.length} codes, ${unassigned} unassigned\n`);
          printCodes(pool, values.json, config.timezone);
          return 0;
        }
        if (backupSub === 'assign') {
          const startsAt = toEpochMs(requireFlag(command, values['starts-at'], '--starts-at', 'ISO'));
          const endsAt = toEpochMs(requireFlag(command, values['ends-at'], '--ends-at', 'ISO'));
          if (
            startsAt === null ||
            endsAt === null ||
            !Number.isFinite(startsAt) ||
            !Number.isFinite(endsAt) ||
            endsAt <= startsAt
          ) {
            throw new UsageError(
              `${command}: --starts-at and --ends-at must be ISO instants with the end after the start`,
            );
          }
          const name = codeNameSchema.safeParse(requireFlag(command, values.name, '--name', 'NAME'));
          if (!name.success) throw new UsageError(`${command}: --name ${name.error.issues[0]!.message}`);
          const code = admin.assignBackup(id(), name.data, startsAt, endsAt, by, now);
          if (!code) throw new TumblerError('not_found', `no unassigned backup code with id ${values.id}`);
          process.stdout.write(
            values.json
              ? `${safeJson({ ok: true, code: describeCode(code, now, config.timezone) })}\n`
              : `assigned backup code ${code.id} to "${safeText(code.name)}"\n`,
          );
          return 0;
        }
        throw new UsageError(`lockfw codes backup: expected add, list or assign (see lockfw codes --help)`);
      }
      default:
        throw new UsageError(
          `lockfw codes: unknown subcommand ${JSON.stringify(sub)}; expected add, list, remove, enable, disable or backup`,
        );
    }
  } finally {
    store.db.close();
  }
}
