// What the Matter end-to-end tests share: lockfw run --matter as a child process in the test's
// private network, the lines it prints, and the controller process's door lock client.
import { expect } from 'vitest';
import { lockfw } from '../../scripts/chaos/lock-process.ts';
import { LOCKFW, type LockfwProcess } from '../helpers/lockfw-process.ts';
import { onCleanup } from '../helpers/tmp.ts';
import type { ControllerProcess } from './controller-client.ts';
import type { PrivateNetwork } from './private-network.ts';

export const STATUS = {
  Success: 0,
  Failure: 1,
  InvalidCommand: 0x85,
  ConstraintError: 0x87,
  UnsupportedWrite: 0x88,
  NotFound: 0x8b,
};
export const LOCK_STATE = { Locked: 1, Unlocked: 2 };
export const OPERATION_ERROR = { InvalidCredential: 1, Restricted: 3 };
export const PORT = 5540; // each test's namespace is fresh: Matter's own port is free
/** A Matter node starts (or restarts after an erase) in seconds, in more on a loaded shared machine. */
export const NODE_START_MS = 90_000;

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every JSON line lockfw printed with this `msg`, in order. */
export function lines(proc: LockfwProcess, msg: string): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  for (const text of proc.output().split('\n')) {
    if (!text.startsWith('{')) continue;
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (parsed.msg === msg) found.push(parsed);
  }
  return found;
}

export function line(proc: LockfwProcess, msg: string): Record<string, unknown> | undefined {
  return lines(proc, msg)[0];
}

/** `lockfw run --hal sim ARGS` inside the private network, killed when the test ends. */
export function startLock(network: PrivateNetwork, args: string[]): LockfwProcess {
  const child = network.spawn(process.execPath, [LOCKFW, 'run', '--hal', 'sim', ...args]);
  child.stdin!.end();
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onCleanup(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, output: () => text, exited };
}

export async function stopLock(proc: LockfwProcess): Promise<void> {
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
}

/** The status code of a refused Matter interaction (StatusResponseError.code). */
export async function refusal(work: Promise<unknown>): Promise<number | null> {
  try {
    await work;
  } catch (error) {
    const { code, message } = error as { code: number | null; message: string };
    if (code === null) throw new Error(`refused without a Matter status: ${message}`);
    return code;
  }
  throw new Error('expected a refusal');
}

export async function listCodes(
  data: string,
): Promise<Array<{ id: number; name: string; kind: string; uses: number }>> {
  const listed = await lockfw(['codes', 'list', '--data', data, '--json']);
  expect(listed.status).toBe(0);
  return JSON.parse(listed.stdout);
}

export async function codeNames(data: string): Promise<string[]> {
  return (await listCodes(data)).map((code) => code.name);
}

/** A PIN as the controller process sends it: these digits' bytes. */
export const pin = (digits: string) => ({ $text: digits });

/** The controller process's door lock cluster client, as the first controller or as `as`. */
export function doorLockOf(controller: ControllerProcess, as?: string) {
  const who = as === undefined ? {} : { as };
  return {
    read: (attribute: string) => controller.request('read', { ...who, attribute }),
    write: (attribute: string, value: unknown) => controller.request('write', { ...who, attribute, value }),
    invoke: (command: string, request: Record<string, unknown> = {}) =>
      controller.request('invoke', { ...who, command, request }),
    events: async () =>
      (
        (await controller.request('events')) as Array<{
          name: string;
          data: Record<string, unknown>;
          as: string;
        }>
      ).filter((event) => as === undefined || event.as === as),
  };
}

/** Commissions the lock as controller `name` with a manual code, with lockfw's output on failure. */
export async function commission(
  controller: ControllerProcess,
  lock: LockfwProcess,
  name: string,
  manualCode: unknown,
): Promise<void> {
  await controller.request('commission', { name, manualCode, port: PORT }).catch((error: Error) => {
    throw new Error(
      `commissioning failed: ${error.message}\nlockfw said:\n${lock.output()}\ncontroller said:\n${controller.stderr()}`,
    );
  });
}
