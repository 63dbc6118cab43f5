import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient } from '../../keypad-sim/control-client.ts';

const LOCKFW = new URL('../lockfw.js', import.meta.url).pathname;

/** A real `lockfw run --hal sim` child process the campaign can SIGKILL at any moment. */
export class LockProcess {
  private child: ChildProcess | undefined;
  private output = '';
  client: ControlClient | undefined;

  constructor(
    readonly dataDir: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  async start(timeoutMs = 30_000): Promise<void> {
    this.output = '';
    const child = spawn(
      process.execPath,
      [LOCKFW, 'run', '--hal', 'sim', '--data', this.dataDir, '--init', ...this.args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...this.env },
      },
    );
    child.stdout!.on('data', (c: Buffer) => {
      this.output = (this.output + c.toString()).slice(-200_000);
    });
    child.stderr!.on('data', (c: Buffer) => {
      this.output = (this.output + c.toString()).slice(-200_000);
    });
    this.child = child;
    const socket = join(this.dataDir, 'sim.sock');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`lockfw exited (${child.exitCode}) at start:\n${this.output}`);
      if (this.output.includes('control socket ready') && existsSync(socket)) {
        this.client = await ControlClient.connect(socket);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`lockfw did not start within ${timeoutMs} ms:\n${this.output}`);
  }

  /** The power cut. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.client?.close();
    this.client = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.output;
  }
}

/** Runs `lockfw ARGS` to completion (codes add while the lock runs: a second SQLite writer). */
export function lockfw(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LOCKFW, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
