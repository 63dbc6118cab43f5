import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../firmware/log.ts';
import { startSystemdNotifier, watchdogIntervalMs } from '../../firmware/systemd-notify.ts';
import { LOCKFW } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';

/** What systemd's notify socket would receive: a unix datagram socket, each message printed on a line. */
const RECEIVER = `
import json, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(json.dumps(sock.recv(4096).decode()), flush=True)
`;

async function fakeNotifySocket(path: string): Promise<{ messages: string[]; process: ChildProcess }> {
  const receiver = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  onCleanup(() => receiver.kill());
  const messages: string[] = [];
  const lines = createInterface({ input: receiver.stdout! });
  await new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      if (line === 'bound') resolve();
      else messages.push(JSON.parse(line) as string);
    });
  });
  return { messages, process: receiver };
}

async function until(check: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

describe('sd_notify', () => {
  it('pings at half of WatchdogSec, only when the watchdog is meant for this process', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
  });

  it('does nothing outside systemd, and refuses to start without its helper', async () => {
    expect(await startSystemdNotifier({}, silent)).toBeUndefined();
    await expect(
      startSystemdNotifier({ NOTIFY_SOCKET: '/run/nowhere' }, silent, '/nonexistent/python3'),
    ).rejects.toMatchObject({ code: 'SD_NOTIFY_FAILED' });
  });

  it('sends one datagram per assignment, and refuses a line that would split', async () => {
    const dir = tempDir('tumbler-notify-');
    const socket = await fakeNotifySocket(join(dir, 'notify'));
    const notifier = (await startSystemdNotifier({ NOTIFY_SOCKET: join(dir, 'notify') }, silent))!;
    expect(() => notifier.notify('READY=1\nWATCHDOG=1')).toThrow(RangeError);
    notifier.notify('READY=1');
    notifier.notify('STATUS=locked');
    await until(
      () => socket.messages.length === 2,
      () => JSON.stringify(socket.messages),
    );
    expect(socket.messages).toEqual(['READY=1', 'STATUS=locked']);
    await notifier.close();
  });

  it('a real lockfw run sends READY=1, then WATCHDOG=1 pings, then STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir('tumbler-notify-');
    const socketPath = join(dir, 'notify');
    const socket = await fakeNotifySocket(socketPath);
    const child = spawn(
      process.execPath,
      [LOCKFW, 'run', '--hal', 'sim', '--init', '--data', join(dir, 'data')],
      {
        env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '200000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    onCleanup(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await until(
      () => socket.messages.filter((message) => message === 'WATCHDOG=1').length >= 3,
      () => `${JSON.stringify(socket.messages)}\n${output}`,
    );
    // Ready only once the lock is up: the control socket was announced before it.
    expect(output).toContain('control socket ready');
    expect(socket.messages[0]).toBe('READY=1');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until(
      () => socket.messages.at(-1) === 'STOPPING=1',
      () => JSON.stringify(socket.messages),
    );
    expect(new Set(socket.messages)).toEqual(new Set(['READY=1', 'WATCHDOG=1', 'STOPPING=1']));
  }, 30_000);
});
