import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SeamHttp } from '@seamapi/http/connect';
import { onTestFinished } from 'vitest';
import type { ControlClient } from '../../keypad-sim/control-client.ts';
import { connectWhenReady, type LockfwProcess, spawnLockfw } from '../helpers/lockfw-process.ts';
import type { TestBroker } from '../helpers/mosquitto.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';
import { checkedSeamHttp, type SeenResponse } from './seam-schema.ts';

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Real processes: a provisioned `lockfw run --hal sim`, `lockctl serve`, and the official Seam client. */
export interface World {
  dir: string;
  /** The gateway database: a SQLite file, or a postgres:// URL (a database of this test's own). */
  dbPath: string;
  deviceId: string;
  lockctl: (...args: string[]) => Promise<CliResult>;
  apiKey: string;
  endpoint: string;
  /** SeamHttp on the gateway; every response it receives is checked against @seamapi/types. */
  seam: SeamHttp;
  seen: SeenResponse[];
  lock: LockfwProcess;
  control: ControlClient;
  serveOutput: () => string;
  dataDir: string;
  /** Starts the lock again on its data dir (after a kill); resolves once it is connected. */
  restartLock: () => Promise<ControlClient>;
  /** A new official client (every response checked too). */
  client: (apiKey: string) => { seam: SeamHttp; seen: SeenResponse[] };
  /** Every `lockctl serve` of this world (one, or the workers of a worker group), by endpoint. */
  workers: Array<{ endpoint: string; output: () => string }>;
  /** SIGKILLs the (first) `lockctl serve` and waits for it to be gone. */
  killGateway: () => Promise<void>;
  /** Starts `lockctl serve` again on the same database and endpoint; resolves once it listens. */
  restartGateway: () => Promise<void>;
}

/** Where the world keeps the gateway's state. */
export type WorldDb = 'sqlite' | 'postgres';

export interface WorldOptions {
  deviceId?: string;
  serveArgs?: string[];
  /**
   * `postgres`: a fresh PostgreSQL database for this test, dropped after it. Default:
   * $TUMBLER_WORLD_DB (`sqlite` or `postgres`, to run every world test on one), else `sqlite`.
   */
  db?: WorldDb;
  /**
   * More than one: that many `lockctl serve` processes on one PostgreSQL database, one
   * MQTT 5 worker group; `endpoint` and `seam` are the first one's.
   */
  workers?: number;
}

/**
 * tempDir, removed when the test finishes: tempDir's own afterEach, registered from
 * inside a running test, does not run.
 */
export function testDir(): string {
  const dir = tempDir('tumbler-seam-');
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function spawnServe(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [LOCKCTL, 'serve', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { child, output: () => text };
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
};

export async function startWorld(broker: TestBroker, options: WorldOptions = {}): Promise<World> {
  const deviceId = options.deviceId ?? 'door1';
  const dir = testDir();
  const workerCount = options.workers ?? 1;
  const db = options.db ?? (process.env.TUMBLER_WORLD_DB === 'postgres' ? 'postgres' : 'sqlite');
  if (workerCount > 1 && db !== 'postgres') throw new Error('several workers share a PostgreSQL database');
  const dbPath = db === 'postgres' ? await testPostgresDatabase() : join(dir, 'gateway.db');
  const env = { ...process.env, LOCKCTL_DB: dbPath, LOCKCTL_MQTT: broker.url };
  const lockctl = (...args: string[]) =>
    new Promise<CliResult>((resolve) => {
      execFile(process.execPath, [LOCKCTL, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    });

  const provisioned = await lockctl('provision', '--device-id', deviceId, '--out', dir);
  if (provisioned.status !== 0) throw new Error(`provision failed: ${provisioned.stderr}`);
  const created = await lockctl('api-key', 'create', '--name', 'booking system', '--json');
  if (created.status !== 0) throw new Error(`api-key create failed: ${created.stderr}`);
  const apiKey = (JSON.parse(created.stdout) as { key: string }).key;

  // The gateway first: it answers the lock's time request when the lock connects.
  const startServe = async (listen = '127.0.0.1:0') => {
    const group = workerCount > 1 ? ['--worker-group', 'world'] : [];
    const serve = spawnServe(['--http', listen, ...group, ...(options.serveArgs ?? [])], env);
    onTestFinished(() => stop(serve.child));
    let url = '';
    await waitUntil(
      () => {
        if (serve.child.exitCode !== null) throw new Error(`lockctl serve exited:\n${serve.output()}`);
        const line = serve
          .output()
          .split('\n')
          .find((l) => l.includes('"msg":"listening"'));
        if (line) url = (JSON.parse(line) as { url: string }).url;
        return url !== '';
      },
      20_000,
      'lockctl serve to listen',
    );
    return { endpoint: url, output: serve.output, child: serve.child };
  };
  const workers: Array<Awaited<ReturnType<typeof startServe>>> = [];
  for (let i = 0; i < workerCount; i++) workers.push(await startServe());
  const { endpoint, output: serveOutput } = workers[0]!;

  const dataDir = join(dir, 'lock');
  const startLock = async () => {
    const lock = spawnLockfw([
      'run',
      '--hal',
      'sim',
      '--data',
      dataDir,
      '--init',
      '--provisioning',
      join(dir, `${deviceId}.provisioning.json`),
      '--mqtt',
      broker.url,
    ]);
    onTestFinished(() => stop(lock.child));
    const control = await connectWhenReady(lock, join(dataDir, 'sim.sock'));
    onTestFinished(() => control.close());
    await waitUntil(() => lock.output().includes('mqtt connected'), 20_000, 'the lock to connect');
    return { lock, control };
  };
  const { lock, control } = await startLock();

  const client = (key: string) => checkedSeamHttp(key, endpoint);
  const { seam, seen } = client(apiKey);
  return {
    dir,
    dbPath,
    deviceId,
    lockctl,
    apiKey,
    endpoint,
    seam,
    seen,
    lock,
    control,
    serveOutput,
    dataDir,
    restartLock: async () => (await startLock()).control,
    client,
    workers,
    killGateway: async () => {
      const { child } = workers[0]!;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    restartGateway: async () => {
      workers[0] = await startServe(new URL(endpoint).host);
    },
  };
}
