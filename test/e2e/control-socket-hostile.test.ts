import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWhenReady, LOCKFW, type LockfwProcess, runLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

const running: LockfwProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

/** `lockfw run --hal sim` under umask 000, as a careless service manager would start it. */
function spawnUnderUmask000(dataDir: string): LockfwProcess {
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'umask 000; exec "$0" "$@"',
      process.execPath,
      LOCKFW,
      'run',
      '--hal',
      'sim',
      '--data',
      dataDir,
      '--init',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc = { child, output: () => text, exited };
  running.push(proc);
  return proc;
}

describe('the sim control socket of a real lockfw', () => {
  it('is 0600 under umask 000, and refuses times it cannot keep without breaking the audit log', async () => {
    const dataDir = tempDir();
    const socket = join(dataDir, 'sim.sock');
    const proc = spawnUnderUmask000(dataDir);
    const client = await connectWhenReady(proc, socket);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    for (const [cmd, time] of [
      ['sync_time', 1e20],
      ['sync_time', true],
      ['sync_time', '+275760-09-13T00:00:00Z'],
      ['rtc_set', 1e300],
      ['rtc_set', -8.64e15],
    ] as const) {
      const reply = await client.send(cmd, { time });
      expect(reply, `${cmd} ${String(time)}`).toMatchObject({ ok: false, error: 'bad_request' });
      expect(String(reply.message)).toMatch(/^time must be epoch milliseconds/);
    }
    expect(await client.send('recent', { limit: 1.5 })).toMatchObject({ ok: false, error: 'bad_request' });
    // A good time still works; what the lock wrote can be listed.
    const ahead = new Date(Date.now() + 3_600_000).toISOString();
    const synced = await client.send('sync_time', { time: ahead });
    expect(synced, JSON.stringify(synced)).toMatchObject({ ok: true });
    const decided = client.waitForEvent((event) => event.event === 'decision');
    await client.request('press', { keys: '9999#' });
    await decided;
    client.close();
    proc.child.kill('SIGTERM');
    await proc.exited;
    const list = await runLockfw(['audit', 'list', '--data', dataDir, '--limit', '200']);
    expect(list.stderr).toBe('');
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(ahead.slice(0, 13));
    expect(list.stdout).toMatch(/decision/);
  });
});
