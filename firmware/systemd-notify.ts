import { type ChildProcess, spawn } from 'node:child_process';
import { TumblerError } from './errors.ts';
import type { Logger } from './log.ts';

/**
 * sd_notify(3) for a unit with Type=notify: READY=1 once the lock is up, WATCHDOG=1
 * pings from the event loop, STOPPING=1 at shutdown. The messages are datagrams on the
 * unix socket named by $NOTIFY_SOCKET, and Node's dgram module cannot send on a unix
 * socket. The npm packages that can (unix-dgram, node-unix-socket, sd-notify) are
 * native addons; lockfw keeps to one (better-sqlite3, docs/hardware.md). So a small
 * Python helper (python3 is installed with the build tools) stays up beside lockfw and
 * sends each line it reads on stdin as one datagram. Not `systemd-notify`: a process
 * that exits right after sending races systemd's lookup of its unit and the message
 * can be dropped; a helper that stays up does not. The unit needs NotifyAccess=all,
 * since the sender is lockfw's child. If lockfw's event loop stalls, no line reaches
 * the helper and systemd's watchdog restarts the service; if the helper dies, the same.
 */
const HELPER = `
import os, socket, sys
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):
    address = "\\0" + address[1:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for line in sys.stdin:
    line = line.strip()
    if line:
        sock.sendto(line.encode(), address)
`;

/** One `NAME=value` assignment: a newline would split it into two messages. */
const ASSIGNMENT = /^[A-Z_]+=[^\n]*$/;

export interface SystemdNotifier {
  notify(assignment: string): void;
  /** Half of WatchdogSec, when systemd asked this process for pings; else undefined. */
  readonly watchdogIntervalMs: number | undefined;
  close(): Promise<void>;
}

/** WATCHDOG_USEC / 2 in ms, if the watchdog is on and meant for this process (WATCHDOG_PID). */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec) || Number(usec) === 0) return undefined;
  if (env.WATCHDOG_PID && env.WATCHDOG_PID !== String(pid)) return undefined;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * Starts the notifier when systemd set $NOTIFY_SOCKET, else resolves undefined. Fails
 * with code SD_NOTIFY_FAILED when the helper cannot start (no python3): under
 * Type=notify the lock would otherwise never count as started.
 */
export async function startSystemdNotifier(
  env: NodeJS.ProcessEnv,
  log: Logger,
  python = 'python3',
): Promise<SystemdNotifier | undefined> {
  if (!env.NOTIFY_SOCKET) return undefined;
  const child: ChildProcess = spawn(python, ['-c', HELPER], {
    env: { PATH: env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: env.NOTIFY_SOCKET },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(new TumblerError('SD_NOTIFY_FAILED', `cannot notify systemd: ${python}: ${error.message}`)),
    );
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-500);
  });
  let closing = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!closing) log.error('systemd notifier exited', { code, signal, detail: stderr.trim() });
      resolve();
    });
  });
  child.stdin?.on('error', () => {}); // a dead helper is reported by its exit
  return {
    watchdogIntervalMs: watchdogIntervalMs(env, process.pid),
    notify(assignment) {
      if (!ASSIGNMENT.test(assignment)) throw new RangeError('assignment must be one NAME=value line');
      if (!closing) child.stdin?.write(`${assignment}\n`);
    },
    async close() {
      closing = true;
      child.stdin?.end();
      await exited;
    },
  };
}
