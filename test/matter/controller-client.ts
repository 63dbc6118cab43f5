import { createInterface } from 'node:readline';
import { onCleanup } from '../helpers/tmp.ts';
import type { PrivateNetwork } from './private-network.ts';

const SCRIPT = new URL('./controller-process.ts', import.meta.url).pathname;

/** A refused request: the Matter status code when the controller got one (StatusResponseError.code). */
export class ControllerError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

export interface ControllerProcess {
  /** Sends one request to test/matter/controller-process.ts and waits for its answer. */
  request(op: string, args?: Record<string, unknown>): Promise<unknown>;
  /** What it wrote to stderr (matter.js errors), for failure messages. */
  stderr(): string;
}

/** Starts the controller process inside `network`; it is stopped when the test ends, pass or fail. */
export async function startController(network: PrivateNetwork, storage: string): Promise<ControllerProcess> {
  const child = network.spawn(process.execPath, ['--import', 'tsx', SCRIPT, storage]);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  onCleanup(async () => {
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  void exited.then(() => {
    for (const { reject } of waiting.values()) reject(new Error(`the controller process exited:\n${stderr}`));
    waiting.clear();
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const answer = JSON.parse(text) as {
      id: number;
      value?: unknown;
      error?: { message: string; code: number | null };
    };
    const pending = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.error) pending?.reject(new ControllerError(answer.error.message, answer.error.code));
    else pending?.resolve(answer.value);
  });
  let next = 0;
  const request = (op: string, args: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.stdin!.write(`${JSON.stringify({ ...args, id, op })}\n`);
    });
  // Request 0 is the ready line it writes once matter.js is loaded.
  await new Promise<unknown>((resolve, reject) => {
    waiting.set(next++, { resolve, reject });
  });
  return { request, stderr: () => stderr };
}
