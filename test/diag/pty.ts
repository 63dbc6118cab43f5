import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach } from 'vitest';
import { type LockfwProcess, REPO, spawnLockfw } from '../helpers/lockfw-process.ts';

const children: ChildProcess[] = [];
const ports: SerialPort[] = [];
afterEach(async () => {
  for (const port of ports.splice(0)) if (port.isOpen) await new Promise((resolve) => port.close(resolve));
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
});

export const LOCKDIAG = join(REPO, 'scripts', 'lockdiag.js');

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A socat pty pair with stable link names A and B in `dir`; killable and restartable. */
export class PtyPair {
  private child: ChildProcess | undefined;
  readonly a: string;
  readonly b: string;

  private constructor(dir: string) {
    this.a = join(dir, 'A');
    this.b = join(dir, 'B');
  }

  static async start(dir: string): Promise<PtyPair> {
    const pair = new PtyPair(dir);
    await pair.restart();
    return pair;
  }

  /** (Re)starts socat with the same link names; resolves once both links lead to a pty. */
  async restart(): Promise<void> {
    const child = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    children.push(child);
    this.child = child;
    await until(
      () => log.includes('starting data transfer loop') && existsSync(this.a) && existsSync(this.b),
      5000,
      () => `socat links:\n${log}`,
    );
  }

  /** Kills socat: both ends of the pair vanish, like a cable pulled out. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** `lockfw run --hal sim` serving the console on `serialPath`; resolves once the console is open. */
export async function startLockWithConsole(
  dataDir: string,
  serialPath: string,
  extra: string[] = [],
): Promise<LockfwProcess> {
  const proc = spawnLockfw(['run', '--hal', 'sim', '--data', dataDir, '--serial', serialPath, ...extra]);
  children.push(proc.child);
  await waitForOutput(proc, /serial console open/, 20_000);
  await waitForOutput(proc, /control socket ready/, 5000);
  return proc;
}

/** Waits until the process output matches `pattern` `count` times. */
export async function waitForOutput(
  proc: LockfwProcess,
  pattern: RegExp,
  timeoutMs = 10_000,
  count = 1,
): Promise<void> {
  const global = new RegExp(pattern.source, 'g');
  await until(
    () => {
      if (proc.child.exitCode !== null)
        throw new Error(`lockfw exited (${proc.child.exitCode}):\n${proc.output()}`);
      return (proc.output().match(global)?.length ?? 0) >= count;
    },
    timeoutMs,
    () => `${pattern} x${count} in lockfw output:\n${proc.output()}`,
  );
}

export interface LockdiagResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/lockdiag.js ...` to completion. */
export function lockdiag(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<LockdiagResult> {
  const child = spawn(process.execPath, [LOCKDIAG, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, stdout, stderr })));
}

/** The technician's end of the pair as raw bytes (what picocom would do). */
export class RawTerminal {
  received = '';

  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
    });
  }

  static async open(path: string): Promise<RawTerminal> {
    const port = new SerialPort({ path, baudRate: 115200, hupcl: false, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    ports.push(port);
    return new RawTerminal(port);
  }

  write(bytes: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.port.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, (error) =>
        error ? reject(error) : this.port.drain(() => resolve()),
      ),
    );
  }

  /** Waits until the received text (since the last clear) matches. */
  async waitFor(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    await until(
      () => pattern.test(this.received),
      timeoutMs,
      () => `${pattern} in:\n${JSON.stringify(this.received.slice(-2000))}`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}
