import { type ChildProcess, execFile, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { GpioError } from './errors.ts';

/** What the GPIO backend needs of a child process; tests pass fakes. */
export interface ChildHandle {
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export type SpawnFn = (command: string, args: readonly string[]) => ChildHandle;
/** Runs a command to completion and returns its stdout; rejects with stderr on failure. */
export type RunFn = (command: string, args: readonly string[]) => Promise<string>;
export type DelayFn = (ms: number) => Promise<void>;

export const spawnChild: SpawnFn = (command, args) =>
  spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess;

export const runCommand: RunFn = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr).trim() || error.message;
        reject(Object.assign(new GpioError(`${command} failed: ${detail}`), { cause: error }));
      } else resolve(String(stdout));
    });
  });

export const realDelay: DelayFn = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface HeldProcessOptions {
  spawn: SpawnFn;
  delay: DelayFn;
  /** A holder still running after this long has its line. */
  settleMs: number;
  /** SIGKILL a holder that ignores SIGTERM for this long. */
  killAfterMs?: number;
}

/**
 * A long-lived tool process (gpioset holding a line, gpiomon watching one). Starting
 * resolves once it has stayed up for `settleMs`; an early exit rejects with its stderr,
 * which is where the tools say "Device or resource busy" or "No such file or directory".
 */
export class HeldProcess {
  private exited = false;
  private stopping = false;
  private unexpectedExit: ((detail: string) => void) | undefined;
  private readonly exit: Promise<void>;
  private stderrText = '';

  private constructor(
    readonly child: ChildHandle,
    private readonly describe: string,
    private readonly options: HeldProcessOptions,
  ) {
    // A failed kill() is reported as an 'error' event; unheard, it would crash the lock.
    child.on('error', (error) => {
      this.stderrText = `${this.stderrText}\n${error.message}`.slice(-2000);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText = (this.stderrText + chunk).slice(-2000);
    });
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        if (!this.stopping) this.unexpectedExit?.(this.exitDetail(code, signal));
        resolve();
      });
    });
  }

  static async start(
    command: string,
    args: readonly string[],
    options: HeldProcessOptions,
  ): Promise<HeldProcess> {
    const describe = `${command} ${args.join(' ')}`;
    let child: ChildHandle;
    try {
      child = options.spawn(command, args);
    } catch (error) {
      throw new GpioError(`${describe} could not start: ${(error as Error).message}`);
    }
    const held = new HeldProcess(child, describe, options);
    const outcome = await new Promise<{ ok: true } | { ok: false; detail: string }>((resolve) => {
      child.once('error', (error) => resolve({ ok: false, detail: error.message }));
      child.once('exit', (code, signal) => resolve({ ok: false, detail: held.exitDetail(code, signal) }));
      options.delay(options.settleMs).then(() => resolve({ ok: true }));
    });
    if (!outcome.ok || held.exited) {
      held.stopping = true;
      if (!held.exited) child.kill('SIGKILL');
      throw new GpioError(`${describe} failed: ${outcome.ok ? 'exited' : outcome.detail}`);
    }
    return held;
  }

  /** Called once if the process dies without `stop()`. */
  onUnexpectedExit(listener: (detail: string) => void): void {
    this.unexpectedExit = listener;
  }

  isRunning(): boolean {
    return !this.exited;
  }

  /** SIGTERM (the tools release their lines on it), SIGKILL if it lingers; resolves on exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const killAfterMs = this.options.killAfterMs ?? 1000;
    let timer: NodeJS.Timeout | undefined;
    const lingering = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (!this.exited) this.child.kill('SIGKILL');
        resolve();
      }, killAfterMs);
    });
    await Promise.race([this.exit, lingering]);
    clearTimeout(timer);
    await this.exit;
  }

  private exitDetail(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    const said = this.stderrText.trim();
    return said ? `${how}: ${said}` : how;
  }

  toString(): string {
    return this.describe;
  }
}
