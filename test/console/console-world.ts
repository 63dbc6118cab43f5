import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { builtConsole, CONSOLE_NOT_BUILT } from '../../gateway/http/console.ts';
import type { ControlClient } from '../../keypad-sim/control-client.ts';
import { connectWhenReady, type LockfwProcess, REPO, spawnLockfw } from '../helpers/lockfw-process.ts';
import type { TestBroker } from '../helpers/mosquitto.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

const LOCKCTL = join(REPO, 'scripts', 'lockctl.js');
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of each view: kept after the run (gitignored), copied into docs/console/ by hand. */
export const ARTIFACTS = join(REPO, 'test-artifacts', 'console');

/**
 * The browser the console tests drive: Debian's chromium, headless, with a fresh profile
 * in the test's temp dir. A missing chromium or an unbuilt console fails the test with
 * one line saying what to do (nothing is skipped).
 */
export async function openBrowser(dir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  if (builtConsole() === null) throw new Error(CONSOLE_NOT_BUILT);
  const context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
  onCleanup(() => context.close());
  mkdirSync(ARTIFACTS, { recursive: true });
  return context;
}

export interface ConsoleWorld {
  dir: string;
  endpoint: string;
  apiKey: string;
  publishableKey: string;
  locks: Map<string, { process: LockfwProcess; control: ControlClient }>;
  lockctl: (...args: string[]) => Promise<{ status: number; stdout: string; stderr: string }>;
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
};

/**
 * Real processes, as the Seam end-to-end tests have them (test/gateway/world.ts), with
 * two locks: each provisioned and run as `lockfw run --hal sim`, an API key and a
 * publishable key, and `lockctl serve` on a free port.
 */
export async function startConsoleWorld(broker: TestBroker, deviceIds: string[]): Promise<ConsoleWorld> {
  const dir = tempDir('tumbler-console-');
  const env = { ...process.env, LOCKCTL_DB: join(dir, 'gateway.db'), LOCKCTL_MQTT: broker.url };
  const lockctl = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [LOCKCTL, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    });
  const keyOf = async (...args: string[]) => {
    const made = await lockctl('api-key', 'create', ...args, '--json');
    if (made.status !== 0) throw new Error(`api-key create failed: ${made.stderr}`);
    return (JSON.parse(made.stdout) as { key: string }).key;
  };
  for (const deviceId of deviceIds) {
    const provisioned = await lockctl('provision', '--device-id', deviceId, '--out', dir);
    if (provisioned.status !== 0) throw new Error(`provision failed: ${provisioned.stderr}`);
  }
  const apiKey = await keyOf('--name', 'integrator');
  const publishableKey = await keyOf('--publishable', '--name', 'front desk console');

  const serve = spawn(process.execPath, [LOCKCTL, 'serve', '--http', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  serve.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  serve.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  onCleanup(() => stop(serve));
  let endpoint = '';
  await waitUntil(
    () => {
      if (serve.exitCode !== null) throw new Error(`lockctl serve exited:\n${output}`);
      const line = output.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) endpoint = (JSON.parse(line) as { url: string }).url;
      return endpoint !== '';
    },
    20_000,
    'lockctl serve to listen',
  );

  const locks = new Map<string, { process: LockfwProcess; control: ControlClient }>();
  for (const deviceId of deviceIds) {
    const dataDir = join(dir, deviceId);
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
    onCleanup(() => stop(lock.child));
    const control = await connectWhenReady(lock, join(dataDir, 'sim.sock'));
    onCleanup(() => control.close());
    locks.set(deviceId, { process: lock, control });
  }
  for (const [deviceId, lock] of locks)
    await waitUntil(() => lock.process.output().includes('mqtt connected'), 20_000, `${deviceId} to connect`);
  return { dir, endpoint, apiKey, publishableKey, locks, lockctl };
}
