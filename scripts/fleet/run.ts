import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeTarget, isPostgresTarget } from '../../gateway/db/sql.ts';
import { type GatewayDb, openGatewayDb } from '../../gateway/store.ts';
import { CpuMeter, type CpuUse, pidsNamed } from './cpu.ts';
import type { FromShard, ShardReport, ShardWindow, ToShard } from './protocol.ts';

/**
 * The fleet's coordinator: it runs nothing of the traffic itself. The locks run in
 * `lockProcs` child processes (scripts/fleet/shard.ts), the gateway in `gateways`
 * `lockctl serve` processes (one on a SQLite file, or a worker group on PostgreSQL), so
 * the report can say which side saturates. It adds up what the lock processes measure,
 * counts what the gateway stored, checks every lock's events are stored exactly once,
 * and measures each side's CPU.
 */

export interface FleetOptions {
  locks: number;
  url: string;
  /** Keypad entries per second across the fleet. */
  rate: number;
  durationMs: number;
  /** Share of entries with a valid code (the rest are wrong codes). */
  validFraction: number;
  /** desired/codes pushes per second across the fleet. */
  pushesPerSecond: number;
  /** Forced MQTT reconnects (the TCP connection dropped) per second across the fleet. */
  reconnectsPerSecond: number;
  /**
   * The locks' SQLite synchronous setting after boot: `full` is the firmware's own (every
   * decision fsynced). The fleet's locks share one disk, which real locks never do;
   * `normal`/`off` take that out of the measurement.
   */
  lockSync: 'full' | 'normal' | 'off';
  /** Device ids are PREFIX-0001...; distinct prefixes let fleets share a broker. */
  prefix: string;
  /** Gateway processes (`lockctl serve`); more than one needs a PostgreSQL `db`. */
  gateways: number;
  /** Processes the locks are spread over. */
  lockProcs: number;
  /** The gateway database: a postgres:// URL, or a SQLite file (default: one in the run's dir). */
  db?: string;
  /** SIGKILL one gateway worker this long into the traffic (a worker group of two or more). */
  killWorkerAfterMs?: number;
  /** Parent of the data dirs; a temporary dir (removed after) when absent. */
  dataDir?: string;
  /** Called about once a second with a progress line. */
  onProgress?: (line: string) => void;
  /** Resolves to stop early (SIGINT): the run drains and reports. */
  stop?: Promise<void>;
}

export type Side = 'locks' | 'gateways' | 'database' | 'broker';

export interface FleetReport {
  locks: number;
  broker: string;
  gateways: {
    processes: number;
    db: string;
    dialect: 'sqlite' | 'postgres';
    workerGroup: string | null;
    killed: number;
  };
  lockProcs: number;
  durationSeconds: number;
  startup: { seconds: number; connected: number };
  traffic: ShardReport['traffic'] & { targetRate: number };
  /** Events the gateway committed during the traffic (counted in its database). */
  events: { stored: number; perSecond: number; decisionsPerSecond: number };
  /** Keypress to the gateway's acknowledgement of the decision (it acknowledges only what it committed). */
  latencyMs: { samples: number; p50: number; p99: number; max: number };
  pushLatencyMs: { p50: number; p99: number };
  /** Every event each lock issued, in the gateway database once; acknowledged up to the last. */
  exactlyOnce: { locks: number; events: number; missing: number; unacknowledged: number };
  /** One committed INSERT (WAL, synchronous=FULL) on a probe file each second: the disk's state. */
  diskCommitMs: { p50: number; p99: number };
  lockSync: 'full' | 'normal' | 'off';
  memory: { perLockMb: number; lockProcRssMb: number[] };
  /** CPU during the traffic, % of one core, per side; and the machine's, % of all cores. */
  cpu: CpuUse;
  /** The lock processes' event-loop delay (the worst of them). */
  lockLoopDelayMs: { p50: number; p99: number; max: number };
  /** The side at its limit, and why; `none` when every side had room. */
  saturated: { side: Side | 'machine' | 'none'; reason: string };
  connectedAtEnd: number;
  errors: { total: number; byKind: Record<string, number>; samples: string[] };
  /** Firmware warn lines (locks) and gateway warn lines. */
  warnings: { locks: number; gateways: number };
}

const LOCKCTL = new URL('../lockctl.js', import.meta.url).pathname;
const FLEET_LOCKS = new URL('../fleet-locks.js', import.meta.url).pathname;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** A short, stable string for reports: the broker URL without credentials. */
function brokerLabel(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** A lock process and the IPC conversation with it. */
class LockProc {
  private readonly waiters = new Map<string, Array<(message: FromShard) => void>>();
  private output = '';
  failure: string | undefined;
  latestWindow: ShardWindow | undefined;

  constructor(
    readonly child: ChildProcess,
    onProgress: (line: string) => void,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.keep(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.keep(chunk));
    child.on('message', (message: FromShard) => {
      if (message.type === 'progress') onProgress(message.line);
      else if (message.type === 'window') this.latestWindow = message.window;
      else if (message.type === 'failed') this.failure = message.message;
      for (const resolve of this.waiters.get(message.type)?.splice(0) ?? []) resolve(message);
      if (message.type === 'failed')
        for (const list of this.waiters.values()) for (const r of list.splice(0)) r(message);
    });
    child.on('exit', (code, signal) => {
      this.failure ??= `lock process exited (${signal ?? code}): ${this.output.slice(-2000)}`;
      const gone: FromShard = { type: 'failed', message: this.failure };
      for (const list of this.waiters.values()) for (const r of list.splice(0)) r(gone);
    });
  }

  private keep(chunk: Buffer): void {
    this.output = (this.output + chunk.toString()).slice(-20_000);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(message: ToShard): void {
    if (this.alive && this.child.connected) this.child.send(message);
  }

  /** Sends `message` and waits for the answer of type `answer` (or the process's failure). */
  async ask<T extends FromShard['type']>(
    message: ToShard,
    answer: T,
  ): Promise<Extract<FromShard, { type: T }>> {
    if (this.failure) throw new Error(this.failure);
    const reply = new Promise<FromShard>((resolve) => {
      const list = this.waiters.get(answer) ?? [];
      list.push(resolve);
      this.waiters.set(answer, list);
    });
    this.send(message);
    const got = await reply;
    if (got.type === 'failed') throw new Error(`lock process: ${got.message}`);
    return got as Extract<FromShard, { type: T }>;
  }
}

interface Gateway {
  child: ChildProcess;
  output: () => string;
}

async function startGateway(db: string, url: string, workerGroup: string | null): Promise<Gateway> {
  const args = [LOCKCTL, 'serve', '--http', '127.0.0.1:0', '--db', db, '--mqtt', url];
  if (workerGroup) args.push('--worker-group', workerGroup);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const keep = (chunk: Buffer) => {
    text += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 60_000;
  while (!text.includes('"msg":"listening"')) {
    if (child.exitCode !== null) throw new Error(`lockctl serve exited: ${text.slice(-2000)}`);
    if (Date.now() > deadline)
      throw new Error(`lockctl serve did not listen within 60 s: ${text.slice(-2000)}`);
    await sleep(100);
  }
  return { child, output: () => text };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Lines at a level in a gateway's JSON log. */
function logLines(output: string, level: string): string[] {
  return output.split('\n').filter((line) => line.includes(`"level":"${level}"`));
}

/**
 * Which side is at its limit: a Node process or Mosquitto at (nearly) a whole core, the
 * database at (nearly) all cores, lock processes whose event loop falls behind; else
 * the machine as a whole when its cores are nearly all busy.
 */
export function saturatedSide(cpu: CpuUse, lockLoopP99Ms: number): FleetReport['saturated'] {
  const s = cpu.sides;
  const load: Array<[Side, number, string]> = [
    [
      'locks',
      (s.locks?.maxProcessPercent ?? 0) / 100,
      `a lock process at ${s.locks?.maxProcessPercent}% of a core`,
    ],
    [
      'gateways',
      (s.gateways?.maxProcessPercent ?? 0) / 100,
      `a gateway process at ${s.gateways?.maxProcessPercent}% of a core`,
    ],
    [
      'database',
      (s.database?.totalPercent ?? 0) / (100 * cpu.cores),
      `PostgreSQL at ${s.database?.totalPercent}% of a core over ${cpu.cores} cores`,
    ],
    [
      'broker',
      (s.broker?.maxProcessPercent ?? 0) / 100,
      `Mosquitto at ${s.broker?.maxProcessPercent}% of its one core`,
    ],
  ];
  if (lockLoopP99Ms > 100)
    load.push([
      'locks',
      1,
      `the lock processes' event loop ${lockLoopP99Ms} ms behind (p99): the simulation is the limit`,
    ]);
  const [side, ratio, reason] = load.sort((a, b) => b[1] - a[1])[0]!;
  if (ratio >= 0.85) return { side, reason };
  const shares = `locks ${s.locks?.totalPercent ?? 0}%, gateways ${s.gateways?.totalPercent ?? 0}%, database ${s.database?.totalPercent ?? 0}%, broker ${s.broker?.totalPercent ?? 0}% of a core`;
  if (cpu.machinePercent >= 90)
    return {
      side: 'machine',
      reason: `the machine's ${cpu.cores} cores ${cpu.machinePercent}% busy (${shares})`,
    };
  return { side: 'none', reason: `every side had room (${shares}; machine ${cpu.machinePercent}%)` };
}

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const { locks: count, url } = options;
  const progress = options.onProgress ?? (() => undefined);
  const ownsRoot = !options.dataDir;
  const root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tumbler-fleet-'));
  mkdirSync(root, { recursive: true });
  const dbTarget = options.db ?? join(root, 'gateway.db');
  const postgres = isPostgresTarget(dbTarget);
  const workerGroup = postgres ? `fleet-${options.prefix}` : null;
  const procs: LockProc[] = [];
  let stopping = false;
  void options.stop?.then(() => {
    stopping = true;
    for (const proc of procs) proc.send({ type: 'stop' });
  });

  const gateways: Gateway[] = [];
  let db: GatewayDb | undefined;
  const errors = new Map<string, number>();
  const errorSamples: string[] = [];
  const fail = (kind: string, message: string) => {
    errors.set(kind, (errors.get(kind) ?? 0) + 1);
    if (errorSamples.length < 10) errorSamples.push(`${kind}: ${message}`);
  };
  let killed = 0;

  try {
    db = await openGatewayDb(dbTarget);
    const ids = Array.from(
      { length: count },
      (_, i) => `${options.prefix}-${String(i + 1).padStart(4, '0')}`,
    );
    const k = Math.min(options.lockProcs, count);
    const started = performance.now();
    // --- the locks, registered before any gateway hears them --------------------------
    for (let p = 0; p < k; p++) {
      const child = fork(FLEET_LOCKS, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      procs.push(new LockProc(child, (line) => progress(`[locks ${p + 1}/${k}] ${line}`)));
    }
    await Promise.all(
      procs.map((proc, p) => {
        const from = Math.floor((p * count) / k);
        const to = Math.floor(((p + 1) * count) / k);
        return proc.ask(
          {
            type: 'setup',
            setup: {
              ids: ids.slice(from, to),
              firstIndex: from,
              url,
              db: dbTarget,
              root,
              lockSync: options.lockSync,
              rate: (options.rate * (to - from)) / count,
              pushesPerSecond: (options.pushesPerSecond * (to - from)) / count,
              reconnectsPerSecond: (options.reconnectsPerSecond * (to - from)) / count,
              validFraction: options.validFraction,
            },
          },
          'registered',
        );
      }),
    );
    // --- the gateway --------------------------------------------------------------------
    for (let g = 0; g < options.gateways && !stopping; g++) {
      progress(`starting  gateway ${g + 1}/${options.gateways}`);
      gateways.push(await startGateway(dbTarget, url, workerGroup));
    }
    const connected = await Promise.all(procs.map((proc) => proc.ask({ type: 'connect' }, 'connected')));
    const connectedAtStart = connected.reduce((n, c) => n + c.connected, 0);
    const startupSeconds = (performance.now() - started) / 1000;

    // --- traffic --------------------------------------------------------------------------
    const meter = new CpuMeter({
      locks: () => procs.map((p) => p.child.pid!).filter(Boolean),
      gateways: () => gateways.map((g) => g.child.pid!).filter(Boolean),
      database: () => (postgres ? pidsNamed(['postgres']) : []),
      broker: () => pidsNamed(['mosquitto']),
    });
    const probe = new Database(join(root, 'probe.db'));
    probe.pragma('journal_mode = WAL');
    probe.pragma('synchronous = FULL');
    probe.exec('CREATE TABLE IF NOT EXISTS probe (at INTEGER)');
    const probeInsert = probe.prepare<[number]>('INSERT INTO probe (at) VALUES (?)');
    const commits: number[] = [];
    const storedNow = async () =>
      (
        await db!.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE device_id LIKE ?', [
          `${options.prefix}-%`,
        ])
      )?.n ?? 0;
    const decisionsNow = async () =>
      (
        await db!.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM events WHERE device_id LIKE ? AND type = 'decision'",
          [`${options.prefix}-%`],
        )
      )?.n ?? 0;
    const storedAtStart = await storedNow();
    const decisionsAtStart = await decisionsNow();
    meter.start();
    const trafficStarted = performance.now();
    const done = Promise.all(
      procs.map((proc) => proc.ask({ type: 'traffic', durationMs: options.durationMs }, 'done')),
    );
    const killTimer =
      options.killWorkerAfterMs !== undefined
        ? setTimeout(() => {
            const victim = gateways[0]?.child;
            if (victim && victim.exitCode === null) {
              victim.kill('SIGKILL');
              killed++;
              progress('SIGKILLed gateway worker 1');
            }
          }, options.killWorkerAfterMs)
        : undefined;
    let previousStored = storedAtStart;
    let cpu: CpuUse | undefined;
    let storedAtEnd = storedAtStart;
    let decisionsAtEnd = decisionsAtStart;
    let trafficSeconds = 0;
    let finished = false;
    void done.finally(() => {
      finished = true;
    });
    for (let second = 1; !finished; second++) {
      await Promise.race([sleep(Math.max(0, trafficStarted + second * 1000 - performance.now())), done]);
      if (finished) break;
      const elapsed = performance.now() - trafficStarted;
      if (cpu === undefined && (elapsed >= options.durationMs || stopping)) {
        cpu = meter.stop();
        trafficSeconds = elapsed / 1000;
        storedAtEnd = await storedNow();
        decisionsAtEnd = await decisionsNow();
      }
      const t0 = performance.now();
      probeInsert.run(Date.now());
      const commitMs = performance.now() - t0;
      commits.push(commitMs);
      const stored = await storedNow();
      const windows = procs.map((p) => p.latestWindow).filter((w): w is ShardWindow => w !== undefined);
      const latencies = windows.flatMap((w) => w.latencies).sort((a, b) => a - b);
      progress(
        `${String(Math.round(elapsed / 1000)).padStart(4)}s/${Math.round(options.durationMs / 1000)}s  ` +
          `locks ${windows.reduce((n, w) => n + w.connected, 0)}/${count} connected  ` +
          `events ${stored - previousStored}/s  decisions ${windows.reduce((n, w) => n + w.decisions, 0)}/s  ` +
          `p99 ${Math.round(percentile(latencies, 0.99))} ms  disk commit ${commitMs.toFixed(1)} ms  ` +
          `errors ${windows.reduce((n, w) => n + w.errors, 0)}`,
      );
      previousStored = stored;
    }
    clearTimeout(killTimer);
    const reports = (await done).map((d) => d.report);
    if (cpu === undefined) {
      cpu = meter.stop();
      trafficSeconds = (performance.now() - trafficStarted) / 1000;
      storedAtEnd = await storedNow();
      decisionsAtEnd = await decisionsNow();
    }
    probe.close();
    commits.sort((a, b) => a - b);

    // --- exactly once: every event of every lock in the database, acknowledged -------------
    const rows = await db.all<{ device_id: string; incarnation: string; n: number; top: number }>(
      'SELECT device_id, incarnation, COUNT(*) AS n, MAX(seq) AS top FROM events WHERE device_id LIKE ? GROUP BY device_id, incarnation',
      [`${options.prefix}-%`],
    );
    const held = new Map(rows.map((r) => [`${r.device_id}\n${r.incarnation}`, r]));
    let missing = 0;
    let unacknowledged = 0;
    let issued = 0;
    for (const stream of reports.flatMap((r) => r.streams)) {
      const row = held.get(`${stream.id}\n${stream.incarnation}`);
      issued += stream.lastSeq;
      // Seqs are 1..lastSeq without gaps on the lock: the key makes each stored row distinct.
      missing += stream.lastSeq - Math.min(row?.n ?? 0, stream.lastSeq);
      unacknowledged += stream.lastSeq - stream.ackedSeq;
    }
    if (missing) fail('lost', `${missing} events the locks issued are not in the gateway database`);
    if (unacknowledged) fail('unacknowledged', `${unacknowledged} events not acknowledged at the end`);

    for (const report of reports) {
      for (const [kind, n] of Object.entries(report.errors)) errors.set(kind, (errors.get(kind) ?? 0) + n);
      for (const sample of report.errorSamples) if (errorSamples.length < 10) errorSamples.push(sample);
    }
    let gatewayWarnings = 0;
    for (const [g, gateway] of gateways.entries()) {
      if (gateway.child.signalCode === 'SIGKILL') continue;
      if (gateway.child.exitCode !== null)
        fail('gateway_exited', `gateway ${g + 1} exited: ${gateway.output().slice(-300)}`);
      for (const line of logLines(gateway.output(), 'error')) fail('gateway_error', line.slice(0, 300));
      gatewayWarnings += logLines(gateway.output(), 'warn').length;
    }

    const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const pushLatencies = reports.flatMap((r) => r.pushLatencies).sort((a, b) => a - b);
    const sum = (f: (r: ShardReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    const traffic = {
      targetRate: options.rate,
      entries: sum((r) => r.traffic.entries),
      decisions: sum((r) => r.traffic.decisions),
      granted: sum((r) => r.traffic.granted),
      denied: sum((r) => r.traffic.denied),
      skippedBusy: sum((r) => r.traffic.skippedBusy),
      pushes: sum((r) => r.traffic.pushes),
      pushesApplied: sum((r) => r.traffic.pushesApplied),
      reconnects: sum((r) => r.traffic.reconnects),
    };
    const worst = (f: (r: ShardReport) => number) => Math.max(0, ...reports.map(f));
    const lockLoopDelayMs = {
      p50: worst((r) => r.eventLoopDelayMs.p50),
      p99: worst((r) => r.eventLoopDelayMs.p99),
      max: worst((r) => r.eventLoopDelayMs.max),
    };
    const total = [...errors.values()].reduce((a, b) => a + b, 0);
    return {
      locks: count,
      broker: brokerLabel(url),
      gateways: {
        processes: gateways.length,
        db: describeTarget(postgres ? dbTarget : 'gateway.db (SQLite, in the run dir)'),
        dialect: postgres ? 'postgres' : 'sqlite',
        workerGroup,
        killed,
      },
      lockProcs: procs.length,
      durationSeconds: round1(trafficSeconds),
      startup: { seconds: round1(startupSeconds), connected: connectedAtStart },
      traffic,
      events: {
        stored: storedAtEnd - storedAtStart,
        perSecond: Math.round((storedAtEnd - storedAtStart) / trafficSeconds),
        decisionsPerSecond: round1((decisionsAtEnd - decisionsAtStart) / trafficSeconds),
      },
      latencyMs: {
        samples: latencies.length,
        p50: round1(percentile(latencies, 0.5)),
        p99: round1(percentile(latencies, 0.99)),
        max: round1(latencies.at(-1) ?? 0),
      },
      pushLatencyMs: {
        p50: Math.round(percentile(pushLatencies, 0.5)),
        p99: Math.round(percentile(pushLatencies, 0.99)),
      },
      exactlyOnce: {
        locks: reports.reduce((n, r) => n + r.streams.length, 0),
        events: issued,
        missing,
        unacknowledged,
      },
      diskCommitMs: {
        p50: Math.round(percentile(commits, 0.5) * 100) / 100,
        p99: Math.round(percentile(commits, 0.99) * 100) / 100,
      },
      lockSync: options.lockSync,
      memory: {
        perLockMb:
          Math.round(
            (sum((r) => r.memory.rssAfterStartMb - r.memory.rssBeforeMb) /
              Math.max(
                1,
                sum((r) => r.locks),
              )) *
              100,
          ) / 100,
        lockProcRssMb: reports.map((r) => r.memory.peakRssMb),
      },
      cpu,
      lockLoopDelayMs,
      saturated: saturatedSide(cpu, lockLoopDelayMs.p99),
      connectedAtEnd: sum((r) => r.connectedAtEnd),
      errors: { total, byKind: Object.fromEntries(errors), samples: errorSamples },
      warnings: { locks: sum((r) => r.warnings), gateways: gatewayWarnings },
    };
  } finally {
    await Promise.all(
      procs.map(async (proc) => {
        if (!proc.alive) return;
        const exited = new Promise((resolve) => proc.child.once('exit', resolve));
        proc.send({ type: 'shutdown' });
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(gateways.map((g) => stopProcess(g.child)));
    await db?.close();
    if (ownsRoot) rmSync(root, { recursive: true, force: true });
  }
}
