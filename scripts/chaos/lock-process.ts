import { type ChildProcess, spawn } from 'node:child_process';
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

/**
 * Runs `lockfw ARGS` to completion, optionally with standard input (`--pin-stdin`).
 * Also the tests' way to run one-shot lockfw commands.
 */
export async function lockfw(
  args: string[],
  input = '',
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [LOCKFW, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(input);
  const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { status, stdout, stderr };
}
