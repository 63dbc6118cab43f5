import { parseFlags, parseIntFlag, requireFlag, UsageError } from '../cli.ts';
import { checkDataDir, openStore } from '../firmware.ts';
import { safeJson, safeText } from '../safe-text.ts';
import type { AuditRow } from '../store/audit.ts';

export const AUDIT_HELP = `Usage: lockfw audit <verify|list> --data DIR [options]

  lockfw audit verify --data DIR          checks the keyed hash chain from its checkpoint to
                                          its head; names the first broken or missing row
  lockfw audit list --data DIR [--limit N] [--type TYPE] [--json]
                                          the newest rows (default 20), oldest first

Exit status of verify: 0 intact, 1 broken.`;

/** An instant as ISO text; one a Date cannot hold (written before times were checked) as its number. */
function isoOrRaw(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

export function formatAuditRow(row: AuditRow): string {
  const fields = Object.entries(row.data)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  // Names and details come from the store: printed, never acted on by the terminal.
  return safeText(`${String(row.seq).padStart(6)}  ${isoOrRaw(row.at)}  ${row.type.padEnd(16)} ${fields}`);
}

export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${AUDIT_HELP}\n`);
    return sub ? 0 : 2;
  }
  const command = `lockfw audit ${sub}`;
  const { values, positionals } = parseFlags(command, rest, {
    data: { type: 'string' },
    limit: { type: 'string' },
    type: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${AUDIT_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const dataDir = requireFlag(command, values.data, '--data', 'DIR');
  checkDataDir(dataDir, false);
  const store = openStore(dataDir, { init: false });
  try {
    if (sub === 'verify') {
      const result = store.audit.verify();
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else if (result.ok)
        process.stdout.write(
          `audit chain intact: ${result.rows} rows up to its head, row ${result.headSeq}${result.checkpointSeq > 0 ? ` (rows up to ${result.checkpointSeq} pruned; verified from the checkpoint)` : ''}\n`,
        );
      else process.stdout.write(`audit chain BROKEN at row ${result.firstBrokenSeq}: ${result.problem}\n`);
      return result.ok ? 0 : 1;
    }
    if (sub === 'list') {
      const limit = parseIntFlag(command, values.limit, '--limit', 1, 100_000) ?? 20;
      let rows = store.audit.latest(values.type ? 100_000 : limit);
      if (values.type) rows = rows.filter((row) => row.type === values.type).slice(-limit);
      if (values.json) for (const row of rows) process.stdout.write(`${safeJson(row)}\n`);
      else for (const row of rows) process.stdout.write(`${formatAuditRow(row)}\n`);
      return 0;
    }
    throw new UsageError(`lockfw audit: unknown subcommand ${JSON.stringify(sub)}; expected verify or list`);
  } finally {
    store.db.close();
  }
}
