import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on loopback (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export interface BrokerOptions {
  /** Extra mosquitto.conf lines (password_file, acl_file...); anonymous access otherwise. */
  extraConfig?: string[];
}

/**
 * A Mosquitto child process on a free loopback port, with its own persistence
 * dir, that tests, the bench and the chaos campaign kill and restart on one port.
 */
export class LocalBroker {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly configPath: string,
  ) {}

  static async start(options: BrokerOptions = {}): Promise<LocalBroker> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tumbler-mqtt-'));
    const configPath = join(dir, 'mosquitto.conf');
    const config = [
      // Started as root, mosquitto would drop to user mosquitto and fail to write here.
      'user root',
      `listener ${port} 127.0.0.1`,
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'max_queued_messages 100000',
      ...(options.extraConfig ?? ['allow_anonymous true']),
    ];
    writeFileSync(configPath, `${config.join('\n')}\n`);
    const broker = new LocalBroker(port, dir, configPath);
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts) the broker process on the same port and persistence dir. */
  async resume(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = spawn('mosquitto', ['-c', this.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => {
      this.log += c.toString();
    });
    this.child = child;
    await waitForPort(this.port, 5000).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.log}`);
    });
  }

  /** Kills the broker: SIGKILL for an outage, SIGTERM for a clean stop (persists its state). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  output(): string {
    return this.log;
  }
}
