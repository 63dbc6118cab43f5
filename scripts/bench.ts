import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseFlags, runCli, UsageError } from '../firmware/cli.ts';
import { benchBoot, packageRoot } from './bench/boot.ts';
import { benchDecision } from './bench/decision.ts';
import { benchInstructions } from './bench/instructions.ts';
import { benchMatter } from './bench/matter.ts';
import { benchOffline } from './bench/offline.ts';
import { benchOutbox } from './bench/outbox.ts';
import { benchSeam } from './bench/seam.ts';
import { benchStore } from './bench/store.ts';
import type { BenchRow } from './bench/types.ts';

const HELP = `Usage: npm run bench -- [--quick] [--out FILE] [--only NAME[,NAME...]]

Measures Tumbler against baselines measured in the same run on the same machine and
prints a table (value, baseline, ratio, target, pass); writes the rows as JSON.

  decision  keypress-to-relay latency p50/p99 (ongoing, one_time, offline code) against
            one HMAC + one SQLite commit (WAL, synchronous=FULL) done bare
  offline   offline-code validation against one bare HMAC and a search-based validator
  store     lookups among 10,000 codes, and a 1,000-code desired/codes apply, against
            raw better-sqlite3 (the apply: the median of 11 runs' own ratios)
  outbox    the lock's side of an outbox drain: SyncLink to a raw subscriber that sends
            signed cumulative acks, against raw MQTT.js QoS 1 to a raw subscriber
            (starts its own Mosquitto). The reference gateway (GatewayService) is not
            the receiver: its own SQLite commits limit a drain through it to a few
            thousand events/s; its rate is printed in the row's baseline text
  boot      the board form (dist/, node flags from scripts/lockfw.service) with MQTT
            (its own Mosquitto) and the serial console (a socat pty): boot until
            connected and the console open, and RSS then, against bare node loading
            the same modules
  instructions
            instructions per decision (ongoing, one_time, offline code) against the
            decision floor, counted by valgrind's callgrind: a figure machine load does
            not move. Slow (minutes): only with --only instructions; needs valgrind and
            a build (npm run build)
  seam      the gateway's Seam API: access_codes/create to set on a sim lock against a
            bare signed desired/codes round trip; access_codes/list of 1,000 codes
            through the server against the raw query plus JSON encoding (starts its
            own Mosquitto)
  matter    RSS at ready with --matter against without; without --matter against a
            lock that cannot load matter.js (dist/ only: npm run build; unshare, root)

  --quick        small counts (CI: checks that the bench runs; figures are rough)
  --out FILE     JSON results (default bench/results.json)
  --only NAMES   run only these, comma-separated (the default: all but instructions)

Exits 0 when every bench ran, whether or not it met its target (the table says);
1 when a bench could not run.`;

interface Bench {
  name: string;
  run: (quick: boolean) => Promise<BenchRow[]>;
  /** Run only when named in --only. */
  onRequest?: boolean;
}

const BENCHES: Bench[] = [
  { name: 'decision', run: (quick) => benchDecision(quick ? { entries: 150 } : {}) },
  { name: 'offline', run: () => benchOffline() },
  {
    name: 'store',
    run: (quick) => benchStore(quick ? { stored: 2000, desired: 200, applyRuns: 3 } : {}),
  },
  { name: 'outbox', run: (quick) => benchOutbox(quick ? { events: 300 } : {}) },
  { name: 'boot', run: (quick) => benchBoot(quick ? { runs: 1 } : {}) },
  { name: 'matter', run: (quick) => benchMatter(quick ? { runs: 1 } : {}) },
  {
    name: 'seam',
    run: (quick) => benchSeam(quick ? { creates: 11, lists: 5, listed: 1000 } : {}),
  },
  {
    name: 'instructions',
    run: (quick) => benchInstructions(quick ? { entries: 200 } : {}),
    onRequest: true,
  },
];

interface BenchResults {
  machine: {
    cpus: number;
    cpuModel: string;
    memoryMb: number;
    node: string;
    platform: string;
    kernel: string;
  };
  at: string;
  quick: boolean;
  seconds: number;
  rows: Array<BenchRow & { bench: string }>;
  errors: Array<{ bench: string; message: string }>;
}

const formatNumber = (value: number) =>
  Number.isInteger(value) ? value.toLocaleString('en') : String(value);

/** The table: one line a row, then the baselines by row number. */
function formatTable(rows: Array<BenchRow & { bench: string }>): string {
  const header = ['#', 'measurement', 'value', 'baseline', 'ratio', 'target', 'pass'];
  const cells = rows.map((row, i) => [
    String(i + 1),
    row.name,
    `${formatNumber(row.value)} ${row.unit}`,
    `${formatNumber(row.baseline)} ${row.unit}`,
    `${row.ratio}x`,
    row.target,
    row.pass ? 'PASS' : 'MISS',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) =>
        c === 0 || c === 2 || c === 3 || c === 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!),
      )
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), '', 'baselines:'];
  rows.forEach((row, i) => {
    out.push(`${String(i + 1).padStart(widths[0]!)}  ${row.baselineName}`);
  });
  return out.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('bench', argv, {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length)
    throw new UsageError(`bench: unexpected argument ${JSON.stringify(positionals[0])}`);
  const known = BENCHES.map((b) => b.name);
  let selected = BENCHES.filter((b) => !b.onRequest);
  if (values.only !== undefined) {
    const names = values.only.split(',').map((n) => n.trim());
    const unknown = names.find((n) => !known.includes(n));
    if (unknown !== undefined || names.length === 0)
      throw new UsageError(
        `bench: --only must name benches among ${known.join(', ')}, got ${JSON.stringify(values.only)}`,
      );
    selected = BENCHES.filter((b) => names.includes(b.name));
  }
  const out = resolve(values.out ?? resolve(packageRoot(), 'bench', 'results.json'));
  const quick = values.quick ?? false;

  const started = Date.now();
  const rows: BenchResults['rows'] = [];
  const errors: BenchResults['errors'] = [];
  for (const bench of selected) {
    const t0 = Date.now();
    process.stderr.write(`bench: ${bench.name} ...`);
    try {
      const result = await bench.run(quick);
      for (const row of result) {
        if (!Number.isFinite(row.value) || !Number.isFinite(row.baseline) || !Number.isFinite(row.ratio))
          throw new Error(`row "${row.name}" is not a finite measurement`);
        rows.push({ bench: bench.name, ...row });
      }
      process.stderr.write(` ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      const message = (error as Error).message;
      errors.push({ bench: bench.name, message });
      process.stderr.write(` FAILED: ${message}\n`);
    }
  }
  const results: BenchResults = {
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      platform: platform(),
      kernel: release(),
    },
    at: new Date().toISOString(),
    quick,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    rows,
    errors,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const { machine } = results;
  process.stdout.write(
    `Tumbler bench${quick ? ' (--quick: rough figures)' : ''}: ${machine.cpus} x ${machine.cpuModel}, ` +
      `${machine.memoryMb} MB, node ${machine.node}, ${machine.platform} ${machine.kernel}\n\n`,
  );
  if (rows.length) process.stdout.write(`${formatTable(rows)}\n`);
  const missed = rows.filter((r) => !r.pass).length;
  process.stdout.write(
    `\n${rows.length} rows, ${missed} missing their target, ${errors.length} benches failed; ${results.seconds} s; wrote ${out}\n`,
  );
  for (const error of errors) process.stderr.write(`bench ${error.bench} failed: ${error.message}\n`);
  return errors.length ? 1 : 0;
}

await runCli('bench', () => main(process.argv.slice(2)));
