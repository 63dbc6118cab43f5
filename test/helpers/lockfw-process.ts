import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient } from '../../keypad-sim/control-client.ts';
import { lockfw } from '../../scripts/chaos/lock-process.ts';

export const REPO = new URL('../../', import.meta.url).pathname;
export const LOCKFW = join(REPO, 'scripts', 'lockfw.js');

export interface LockfwProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `lockfw` as a real child process. */
export function spawnLockfw(args: string[], env: NodeJS.ProcessEnv = {}): LockfwProcess {
  const child = spawn(process.execPath, [LOCKFW, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** Runs `lockfw` to completion and returns its exit status and output. */
export const runLockfw = lockfw;

/** Waits for the sim control socket of a starting `lockfw run --hal sim`, then connects. */
export async function connectWhenReady(
  proc: LockfwProcess,
  socketPath: string,
  timeoutMs = 20_000,
): Promise<ControlClient> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null)
      throw new Error(`lockfw exited early (${proc.child.exitCode}):\n${proc.output()}`);
    if (existsSync(socketPath) && proc.output().includes('control socket ready')) {
      return ControlClient.connect(socketPath);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`lockfw did not open ${socketPath} within ${timeoutMs} ms:\n${proc.output()}`);
}
