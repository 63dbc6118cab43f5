import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { onCleanup } from '../helpers/tmp.ts';

/**
 * A network namespace of the test's own with only `lo` (up, multicast on and a multicast
 * route, so mDNS works on it): Matter's UDP and mDNS stay inside, never on the machine's
 * interfaces. The namespace has no name: a holder process (`unshare --net`) keeps it, and the
 * kernel removes it once the holder and everything started in it are gone. Needs root
 * (unshare, nsenter, setpriv from util-linux; ip from iproute2).
 */
export interface PrivateNetwork {
  /** Starts `command` inside the namespace (nsenter and setpriv exec it: the child's pid is the command's). */
  spawn(command: string, args: string[], options?: { env?: NodeJS.ProcessEnv }): ChildProcess;
  /** Runs `command` inside the namespace to completion. */
  run(command: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }>;
}

/** Creates the namespace; the holder is killed when the test (or file) ends, pass or fail. */
export async function privateNetwork(): Promise<PrivateNetwork> {
  const holder = spawn(
    'unshare',
    // IPv4 multicast needs a route (a fresh namespace has none): mDNS joins 224.0.0.251 by it.
    [
      '--net',
      '--',
      'sh',
      '-c',
      'ip link set lo up multicast on && ip route add 224.0.0.0/4 dev lo && echo ready && exec cat',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => {
    holder.on('close', () => resolve());
    holder.on('error', () => resolve());
  });
  // Its stdin is this process's pipe: should the test process die, `cat` ends and the namespace goes.
  onCleanup(async () => {
    if (holder.pid !== undefined && holder.exitCode === null && holder.signalCode === null)
      holder.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  holder.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = await Promise.race([
    new Promise<boolean>((resolve) =>
      createInterface({ input: holder.stdout! }).once('line', (text) => resolve(text === 'ready')),
    ),
    exited.then(() => false),
  ]);
  if (!ready) throw new Error(`cannot make a network namespace (unshare --net, as root): ${stderr.trim()}`);

  // setpriv: should the test process die without cleaning up, its children die with it (and the
  // namespace with them), rather than serve Matter on in the background.
  const enter = [`--net=/proc/${holder.pid}/ns/net`, '--', 'setpriv', '--pdeathsig', 'KILL', '--'];
  const network: PrivateNetwork = {
    spawn: (command, args, options = {}) =>
      spawn('nsenter', [...enter, command, ...args], {
        env: { ...process.env, ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    run: (command, args) =>
      new Promise((resolve, reject) => {
        const child = spawn('nsenter', [...enter, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      }),
  };
  // Only loopback: nothing in here can reach another machine.
  const links = (await network.run('ip', ['-o', 'link', 'show'])).stdout.trim().split('\n');
  if (links.length !== 1 || !/^1: lo: <[^>]*MULTICAST[^>]*UP/.test(links[0]!))
    throw new Error(`the private network is not lo alone with multicast:\n${links.join('\n')}`);
  return network;
}
