import { parseFlags, requireFlag, runCli, UsageError } from '../firmware/cli.ts';
import { TumblerError } from '../firmware/errors.ts';
import { isPostgresTarget } from '../gateway/db/sql.ts';
import { parseDuration } from './fleet/duration.ts';
import { type FleetReport, runFleet } from './fleet/run.ts';
import { FDS_PER_LOCK, fdUsage } from './fleet/shard.ts';

const HELP = `Usage: npm run fleet -- --locks N --mqtt URL [--rate R] [--duration D] [options]

Runs N simulated locks, each the real firmware on the sim HAL with its own data dir
(SQLite file) and its own MQTT client, spread over --lock-procs processes, against one
broker and a gateway of --gateways \`lockctl serve\` processes (one on a SQLite file, or
a worker group on a PostgreSQL --db), with a traffic model: keypad entries, signed
desired/codes pushes, dropped connections. Prints a progress line every second, then
events/s stored, keypress-to-stored latency p50/p99, exactly-once checks, memory per
lock, CPU per side (locks, gateways, database, broker) and the side that saturated.
See docs/fleet.md and docs/scaling.md.

  --locks N          simulated locks, 1 to 10000
  --mqtt URL         the broker, e.g. mqtt://127.0.0.1:1883 (Mosquitto 2 or any MQTT 5 broker
                     with shared subscriptions for --gateways above 1)
  --lock-procs K     processes the locks are spread over (default 1)
  --gateways M       gateway processes (default 1); above 1 needs --db postgres://...
  --db FILE|URL      the gateway database: postgres://USER@HOST/DB (an empty database: the
                     run leaves its rows there), or a SQLite file (default: one in the run's dir)
  --kill-worker-after D  SIGKILL one gateway worker this far into the traffic (--gateways 2+):
                     nothing may be lost
  --rate R           keypad entries per second across the fleet (default: locks / 10, at least 1)
  --duration D       traffic time: 30s, 2m, 1m30s or ISO PT30S (default 30s)
  --valid F          share of entries with a valid code, 0 to 1 (default 0.8; the rest are wrong codes)
  --pushes P         desired/codes pushes per second (default: locks / 500, at least 0.2; 0: none)
  --reconnects K     dropped MQTT connections per second (default: locks / 1000, at least 0.1; 0: none)
  --lock-sync MODE   the locks' SQLite synchronous after boot: full (the firmware's, default),
                     normal or off. The simulated locks share one disk, which real locks do
                     not; normal/off measure the rest
  --prefix NAME      device ids NAME-0001... (default fleet); fleets sharing a broker need distinct ones
  --data DIR         put the data dirs here and keep them (default: a temporary dir, removed)
  --json             print the report as JSON on stdout (progress stays on stderr)

Exits 0 when the run had no errors, 1 when it had some (lost, unacknowledged or late
events, refused pushes, locks that did not connect, gateway errors), 2 on a usage error.`;

function parseWhole(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(
      `fleet: ${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}

function parseNumber(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new UsageError(
      `fleet: ${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  return n;
}

function formatReport(r: FleetReport): string {
  const t = r.traffic;
  const side = (name: string) => {
    const c = r.cpu.sides[name];
    return c
      ? `${name} ${c.totalPercent}% (${c.processes} proc, busiest ${c.maxProcessPercent}%)`
      : `${name} -`;
  };
  const lines = [
    `fleet: ${r.locks} locks in ${r.lockProcs} process(es) on ${r.broker}; ${r.gateways.processes} gateway process(es) on ${r.gateways.dialect} ${r.gateways.db}${r.gateways.workerGroup ? ` (worker group ${r.gateways.workerGroup})` : ''}; ${r.durationSeconds} s of traffic (startup ${r.startup.seconds} s, ${r.startup.connected} connected)`,
    `  entries     ${t.entries} pressed (target ${t.targetRate}/s), ${t.decisions} decided: ${t.granted} granted, ${t.denied} denied; ${t.skippedBusy} skipped (lock busy)`,
    `  events      ${r.events.stored} stored by the gateway: ${r.events.perSecond}/s (decisions ${r.events.decisionsPerSecond}/s)`,
    `  latency     keypress to stored (acknowledged): p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms (${r.latencyMs.samples} decisions)`,
    `  once        ${r.exactlyOnce.events} events of ${r.exactlyOnce.locks} locks: ${r.exactlyOnce.missing} missing from the gateway database, ${r.exactlyOnce.unacknowledged} unacknowledged${r.gateways.killed ? `; ${r.gateways.killed} worker SIGKILLed during the run` : ''}`,
    `  pushes      ${t.pushes} sent, ${t.pushesApplied} applied (push to report p50 ${r.pushLatencyMs.p50} ms, p99 ${r.pushLatencyMs.p99} ms)`,
    `  reconnects  ${t.reconnects} connections dropped; ${r.connectedAtEnd}/${r.locks} connected at the end`,
    `  disk        one committed INSERT (WAL, synchronous=FULL) p50 ${r.diskCommitMs.p50} ms, p99 ${r.diskCommitMs.p99} ms during the run; the locks ran synchronous=${r.lockSync}`,
    `  memory      ${r.memory.perLockMb} MB per lock; lock processes peak RSS ${r.memory.lockProcRssMb.join(', ')} MB`,
    `  cpu         ${side('locks')}, ${side('gateways')}, ${side('database')}, ${side('broker')}; machine ${r.cpu.machinePercent}% of ${r.cpu.cores} cores`,
    `  lock loop   event-loop delay p50 ${r.lockLoopDelayMs.p50} ms, p99 ${r.lockLoopDelayMs.p99} ms, max ${r.lockLoopDelayMs.max} ms (worst lock process)`,
    `  saturated   ${r.saturated.side}: ${r.saturated.reason}`,
    `  errors      ${r.errors.total}${
      r.errors.total
        ? ` (${Object.entries(r.errors.byKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }; warnings: locks ${r.warnings.locks}, gateways ${r.warnings.gateways}`,
    ...r.errors.samples.map((s) => `    ${s}`),
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('fleet', argv, {
    locks: { type: 'string' },
    mqtt: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    valid: { type: 'string' },
    pushes: { type: 'string' },
    reconnects: { type: 'string' },
    prefix: { type: 'string' },
    'lock-sync': { type: 'string' },
    'lock-procs': { type: 'string' },
    gateways: { type: 'string' },
    db: { type: 'string' },
    'kill-worker-after': { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length)
    throw new UsageError(`fleet: unexpected argument ${JSON.stringify(positionals[0])}`);
  const lockText = requireFlag('fleet', values.locks, '--locks', 'N');
  if (!/^\d+$/.test(lockText) || Number(lockText) < 1 || Number(lockText) > 10_000)
    throw new UsageError(
      `fleet: --locks must be a whole number from 1 to 10000, got ${JSON.stringify(lockText)}`,
    );
  const locks = Number(lockText);
  const url = requireFlag('fleet', values.mqtt, '--mqtt', 'URL (e.g. mqtt://127.0.0.1:1883)');
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/\S+$/.test(url))
    throw new UsageError(
      `fleet: --mqtt must be a broker URL such as mqtt://127.0.0.1:1883, got ${JSON.stringify(url)}`,
    );
  const rate = parseNumber('--rate', values.rate, 0.01, 100_000) ?? Math.max(1, locks / 10);
  let durationMs = 30_000;
  if (values.duration !== undefined) {
    const parsed = parseDuration(values.duration);
    if (parsed === undefined || parsed > 86_400_000)
      throw new UsageError(
        `fleet: --duration must be like 30s, 2m, 1m30s or PT30S (up to a day), got ${JSON.stringify(values.duration)}`,
      );
    durationMs = parsed;
  }
  const validFraction = parseNumber('--valid', values.valid, 0, 1) ?? 0.8;
  const pushesPerSecond = parseNumber('--pushes', values.pushes, 0, 10_000) ?? Math.max(0.2, locks / 500);
  const reconnectsPerSecond =
    parseNumber('--reconnects', values.reconnects, 0, 10_000) ?? Math.max(0.1, locks / 1000);
  const prefix = values.prefix ?? 'fleet';
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(prefix))
    throw new UsageError(
      `fleet: --prefix must be 1-40 letters, digits, _ or -, got ${JSON.stringify(prefix)}`,
    );

  const lockSync = values['lock-sync'] ?? 'full';
  if (lockSync !== 'full' && lockSync !== 'normal' && lockSync !== 'off')
    throw new UsageError(`fleet: --lock-sync must be full, normal or off, got ${JSON.stringify(lockSync)}`);

  const lockProcs = parseWhole('--lock-procs', values['lock-procs'], 1, 64) ?? 1;
  const gateways = parseWhole('--gateways', values.gateways, 1, 32) ?? 1;
  const db = values.db;
  if (db !== undefined && db.trim() === '')
    throw new UsageError('fleet: --db must be a file or a postgres:// URL');
  if (gateways > 1 && !(db && isPostgresTarget(db)))
    throw new UsageError(`fleet: --gateways ${gateways} needs their shared database: --db postgres://...`);
  let killWorkerAfterMs: number | undefined;
  if (values['kill-worker-after'] !== undefined) {
    killWorkerAfterMs = parseDuration(values['kill-worker-after']);
    if (killWorkerAfterMs === undefined || killWorkerAfterMs >= durationMs)
      throw new UsageError(
        `fleet: --kill-worker-after must be a duration within --duration, got ${JSON.stringify(values['kill-worker-after'])}`,
      );
    if (gateways < 2)
      throw new UsageError(
        'fleet: --kill-worker-after needs --gateways 2 or more (one is left to take over)',
      );
  }

  const { open, limit } = fdUsage();
  const needed = open + Math.ceil(locks / lockProcs) * FDS_PER_LOCK + 64;
  if (limit !== null && needed > limit) {
    throw new TumblerError(
      'fd_limit',
      `${Math.ceil(locks / lockProcs)} locks a process need about ${needed} file descriptors (${FDS_PER_LOCK} a lock: SQLite file, -wal, -shm, MQTT socket) but ulimit -n is ${limit}; raise it (ulimit -n ${Math.max(65_536, needed)}), run fewer locks or more --lock-procs`,
    );
  }

  const tty = process.stderr.isTTY;
  const onProgress = (line: string) => process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  let interrupt: () => void = () => undefined;
  const stop = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  const onSignal = () => {
    process.stderr.write('\nfleet: stopping early (the run drains and reports)\n');
    interrupt();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: FleetReport;
  try {
    report = await runFleet({
      locks,
      url,
      rate,
      durationMs,
      validFraction,
      pushesPerSecond,
      reconnectsPerSecond,
      prefix,
      lockSync,
      lockProcs,
      gateways,
      ...(db ? { db } : {}),
      ...(killWorkerAfterMs !== undefined ? { killWorkerAfterMs } : {}),
      ...(values.data ? { dataDir: values.data } : {}),
      onProgress,
      stop,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (tty) process.stderr.write('\n');
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  return report.errors.total > 0 ? 1 : 0;
}

await runCli('fleet', () => main(process.argv.slice(2)));
