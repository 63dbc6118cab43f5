import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { DEVICE_KEY_FILE } from '../../firmware/store/secret.ts';
import { LOCKFW } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lockfw ARGS` as a real child process. A start-up that fails must end by itself:
 * one still running after 20 s is killed and reported (status null).
 */
function lockfw(args: string[], options: { uid?: number; umask?: string } = {}): Promise<Run> {
  const command = options.umask
    ? spawn('/bin/sh', ['-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, LOCKFW, ...args])
    : spawn(process.execPath, [LOCKFW, ...args], {
        ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
      });
  let stdout = '';
  let stderr = '';
  command.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  command.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => command.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    command.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** Exit 1, nothing on stdout (no `ready`, no control socket), one line on stderr, no stack. */
function expectRefusedStart(run: Run, pattern: RegExp): void {
  expect(run.status, run.stdout + run.stderr).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^lockfw: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(run.stdout).not.toMatch(/"ready"|control socket ready/);
}

function initialised(): string {
  const dir = tempDir();
  openStore(dir).db.close();
  return dir;
}

const run = (dir: string, ...extra: string[]) => lockfw(['run', '--hal', 'sim', '--data', dir, ...extra]);

describe('lockfw refuses a bad start in one line, before anything starts', () => {
  it('a corrupt database file', async () => {
    const dir = initialised();
    writeFileSync(join(dir, DB_FILE), Buffer.alloc(8192, 0x5a));
    rmSync(join(dir, `${DB_FILE}-wal`), { force: true });
    expectRefusedStart(await run(dir), /lock\.db: file is not a database/);
  });

  it('lock.db as a directory', async () => {
    const dir = initialised();
    rmSync(join(dir, DB_FILE));
    mkdirSync(join(dir, DB_FILE));
    expectRefusedStart(await run(dir), /lock\.db is not a regular file/);
  });

  it('a bad device.key', async () => {
    const dir = initialised();
    writeFileSync(join(dir, DEVICE_KEY_FILE), 'zz\n');
    expectRefusedStart(await run(dir), /device\.key is not a 64-hex-digit device key/);
    expect(statSync(join(dir, DEVICE_KEY_FILE)).size).toBe(3); // refused, never replaced
  });

  it('a read-only data dir', async () => {
    const dir = initialised();
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dir, 65534, 65534);
    chmodSync(dir, 0o500);
    const result = await lockfw(['run', '--hal', 'sim', '--data', dir], asRoot ? { uid: 65534 } : {});
    chmodSync(dir, 0o700);
    expectRefusedStart(result, /is not writable/);
  });

  it('an unreadable MQTT password file: never a lock that grants codes without its link', async () => {
    const dir = initialised();
    const result = await run(
      dir,
      '--mqtt',
      'mqtt://127.0.0.1:1',
      '--mqtt-password-file',
      join(dir, 'no-such-password'),
    );
    expectRefusedStart(result, /mqtt\.passwordFile: cannot read .*no-such-password \(ENOENT\)/);
    expect(existsSync(join(dir, 'sim.sock'))).toBe(false);
    // Not even a boot row: the store was never opened for a start.
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect(db.prepare("SELECT COUNT(*) AS n FROM audit WHERE type = 'boot'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('a damaged lockout state, naming the key', async () => {
    const dir = initialised();
    const db = new Database(join(dir, DB_FILE));
    db.prepare("INSERT INTO state (key, value) VALUES ('lockout', '{broken')").run();
    db.close();
    expectRefusedStart(await run(dir), /the saved "lockout" state is damaged/);
  });

  it('a lost lock.db: run, codes and audit all refuse and name the way back', async () => {
    const dir = initialised();
    rmSync(join(dir, DB_FILE));
    for (const args of [
      ['run', '--hal', 'sim', '--data', dir, '--init'],
      ['codes', 'list', '--data', dir],
      ['audit', 'verify', '--data', dir],
    ]) {
      expectRefusedStart(
        await lockfw(args),
        /lock\.db is missing.*--replace-lost-store.*docs\/reliability\.md/,
      );
    }
    expect(existsSync(join(dir, DB_FILE))).toBe(false);
  });

  it('a lost lock.db and store.id beside the device.key: --init (left in first-boot.env) makes no new store', async () => {
    const dir = initialised();
    rmSync(join(dir, DB_FILE));
    rmSync(join(dir, `${DB_FILE}-wal`), { force: true });
    rmSync(join(dir, `${DB_FILE}-shm`), { force: true });
    rmSync(join(dir, 'store.id'));
    expectRefusedStart(
      await run(dir, '--init'),
      /device\.key is here but neither lock\.db nor store\.id.*docs\/reliability\.md/,
    );
    expect(existsSync(join(dir, DB_FILE))).toBe(false);
  });

  it('makes its files 0600 and the data dir 0700 under umask 000', async () => {
    const dir = join(tempDir(), 'fresh');
    const result = await lockfw(['codes', 'list', '--data', dir], { umask: '000' });
    expect(result.status).toBe(1); // no store: codes never makes one
    const started = spawn(
      '/bin/sh',
      [
        '-c',
        'umask 000 && exec "$0" "$@"',
        process.execPath,
        LOCKFW,
        'run',
        '--hal',
        'sim',
        '--data',
        dir,
        '--init',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 20_000);
      started.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('control socket ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const file of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, DEVICE_KEY_FILE, 'store.id'])
        expect([file, statSync(join(dir, file)).mode & 0o777]).toEqual([file, 0o600]);
    } finally {
      started.kill('SIGKILL');
    }
  });
});
