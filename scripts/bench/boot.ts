import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { LocalBroker } from '../support/broker.ts';
import { benchDir, median, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * Boot to ready and resident memory of the board form: `lockfw run --hal sim` from the
 * built JavaScript in dist/, started with the node flags of scripts/lockfw.service, as a
 * child process with a gateway link (--mqtt, its own Mosquitto, provisioned) and the
 * serial console (--serial, on a socat pty pair). Ready is everything up: the `ready`
 * line, `mqtt connected` and `serial console open`; RSS (VmRSS from /proc) is read at
 * that moment. The baseline is bare `node` importing the same dependencies (better-sqlite3
 * with its native addon loaded, mqtt, luxon, zod, @noble/hashes, serialport) and printing
 * ready. Warm boots (the data dir exists), medians of interleaved runs. Without dist/ it
 * runs the TypeScript through tsx (what `node scripts/lockfw.js` does in a checkout;
 * tsx adds its compile time and memory), and says so in the row's name.
 */

const READY_TARGET = 3;
const RSS_LIMIT_MB = 80;
export interface BootOptions {
  /** Measured boots of each (default 5; one warm-up each first). */
  runs?: number;
}

/** The checkout (or installed package) root: the nearest package.json up from here. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: no package.json above scripts/bench');
    dir = parent;
  }
}

const BASELINE_SCRIPT = `
import Database from 'better-sqlite3';
import 'mqtt';
import 'luxon';
import 'zod';
import '@noble/hashes/sha2.js';
import 'serialport';
new Database(':memory:').close();
process.stdout.write('ready\\n');
setInterval(() => {}, 60000);
`;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`bench: no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** The node flags lockfw.service starts lockfw with (its ExecStart), so the bench runs the board's form. */
export function serviceNodeFlags(root: string): string[] {
  const unit = readFileSync(join(root, 'scripts', 'lockfw.service'), 'utf8');
  const exec = /^ExecStart=node\s+(.*)$/m.exec(unit);
  if (!exec) throw new Error('bench: no "ExecStart=node ..." line in scripts/lockfw.service');
  const flags: string[] = [];
  for (const word of exec[1]!.split(/\s+/)) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}

/** A socat pty pair: the console's end, and socat itself to stop. */
async function ptyPair(dir: string): Promise<{ path: string; child: ChildProcess }> {
  const path = join(dir, 'tty-console');
  const child = spawn(
    'socat',
    [`pty,raw,echo=0,link=${path}`, `pty,raw,echo=0,link=${join(dir, 'tty-peer')}`],
    {
      stdio: 'ignore',
    },
  );
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new Error(`bench: socat is needed for the serial console (${error.message})`)),
    ),
  );
  const deadline = Date.now() + 5000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error('bench: socat made no pty within 5 s');
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 20)), failed]);
  }
  return { path, child };
}

/** Spawns `args`, waits until stdout has matched every one of `ready`, reads RSS, stops it. */
function bootOnce(
  args: string[],
  cwd: string,
  ready: RegExp | RegExp[],
): Promise<{ ms: number; rss: number }> {
  const lines = Array.isArray(ready) ? ready : [ready];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let result: { ms: number; rss: number } | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench: no ready line within 30 s from node ${args.join(' ')}\n${err}`));
    }, 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (result) return;
      out += chunk.toString();
      if (!lines.every((line) => line.test(out))) return;
      const ms = performance.now() - started;
      try {
        result = { ms, rss: rssMb(child.pid!) };
      } catch (error) {
        reject(error);
      }
      child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else reject(new Error(`bench: node ${args.join(' ')} exited (${code ?? signal}) before ready\n${err}`));
    });
  });
}

/** How lockfw is started: the built JavaScript if there is one, else the launcher (tsx). */
export function lockfwCommand(root: string): { args: string[]; label: string; short: string } {
  const built = join(root, 'dist', 'firmware', 'main.js');
  if (existsSync(built)) {
    const when = statSync(built).mtime.toISOString().slice(0, 16).replace('T', ' ');
    return { args: [built], label: `dist/ JavaScript built ${when}`, short: 'dist/' };
  }
  return {
    args: [join(root, 'scripts', 'lockfw.js')],
    label: 'TypeScript through tsx (no dist/; npm run build makes it)',
    short: 'tsx',
  };
}

export async function benchBoot(options: BootOptions = {}): Promise<BenchRow[]> {
  const runs = options.runs ?? 5;
  const root = packageRoot();
  const { dir, remove } = benchDir('boot');
  const lockfw = lockfwCommand(root);
  const nodeFlags = lockfw.short === 'dist/' ? serviceNodeFlags(root) : [];
  const broker = await LocalBroker.start();
  const stops: Array<() => unknown> = [() => broker.close()];
  try {
    const pty = await ptyPair(dir);
    stops.push(() => pty.child.kill());
    writeProvisioning(join(dir, 'provisioning.json'), createProvisioning('bench-boot'));
    const board = [
      '--provisioning',
      join(dir, 'provisioning.json'),
      '--mqtt',
      broker.url,
      '--serial',
      pty.path,
    ];
    const lockArgs = [
      ...nodeFlags,
      ...lockfw.args,
      'run',
      '--hal',
      'sim',
      '--data',
      join(dir, 'lock'),
      '--init',
      ...board,
    ];
    const baseArgs = [...nodeFlags, '--input-type=module', '-e', BASELINE_SCRIPT];
    const lockReady = [/"msg":"ready"/, /"msg":"mqtt connected"/, /"msg":"serial console open"/];
    // First boot creates the data dir, key and schema; it and the first baseline only warm up.
    await bootOnce(lockArgs, root, lockReady);
    await bootOnce(baseArgs, root, /^ready$/m);
    const ours: Array<{ ms: number; rss: number }> = [];
    const base: Array<{ ms: number; rss: number }> = [];
    for (let i = 0; i < runs; i++) {
      base.push(await bootOnce(baseArgs, root, /^ready$/m));
      ours.push(await bootOnce(lockArgs, root, lockReady));
    }
    const readyMs = median(ours.map((r) => r.ms));
    const baseMs = median(base.map((r) => r.ms));
    const rss = median(ours.map((r) => r.rss));
    const baseRss = median(base.map((r) => r.rss));
    return [
      {
        name: `boot to ready, MQTT + serial console (${lockfw.short})`,
        value: Math.round(readyMs),
        unit: 'ms',
        baselineName: `bare node importing the same dependencies; ours lockfw run --hal sim --mqtt --serial until connected and the console is open, warm data dir, ${lockfw.label}${nodeFlags.length ? `, node ${nodeFlags.join(' ')} (lockfw.service)` : ''}`,
        baseline: Math.round(baseMs),
        ratio: round(readyMs / baseMs),
        target: `<= ${READY_TARGET}x baseline`,
        pass: readyMs / baseMs <= READY_TARGET,
      },
      {
        name: `resident memory at ready, MQTT + serial console (${lockfw.short})`,
        value: round(rss, 1),
        unit: 'MB',
        baselineName:
          'bare node importing the same dependencies; VmRSS once the lock is connected and its console open',
        baseline: round(baseRss, 1),
        ratio: round(rss / baseRss),
        target: `< ${RSS_LIMIT_MB} MB`,
        pass: rss < RSS_LIMIT_MB,
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop();
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const row of await benchBoot()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
