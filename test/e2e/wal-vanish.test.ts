import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../firmware/firmware.ts';
import { connectWhenReady, type LockfwProcess, runLockfw, spawnLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

const running: LockfwProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

async function start(dataDir: string) {
  const proc = spawnLockfw(['run', '--hal', 'sim', '--data', dataDir]);
  running.push(proc);
  return { proc, client: await connectWhenReady(proc, join(dataDir, 'sim.sock')) };
}

async function press(client: Awaited<ReturnType<typeof start>>['client'], keys: string) {
  const decided = client.waitForEvent((event) => event.event === 'decision');
  await client.request('press', { keys });
  return (await decided) as unknown as { decision: { outcome: string; reason?: string } };
}

describe('lock.db-wal deleted under a running lock', () => {
  it('stops the lock at once (one line, exit 1) and a used one-time code stays used', async () => {
    const dataDir = tempDir();
    openStore(dataDir).db.close();
    const added = await runLockfw([
      'codes',
      'add',
      '--data',
      dataDir,
      '--name',
      'courier',
      '--pin',
      '8642',
      '--kind',
      'one_time',
    ]);
    expect(added.status).toBe(0);

    const first = await start(dataDir);
    expect((await press(first.client, '8642#')).decision).toMatchObject({ outcome: 'granted' });
    rmSync(join(dataDir, 'lock.db-wal'));
    const status = await Promise.race([
      first.proc.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000)),
    ]);
    first.client.close();
    expect(status, first.proc.output()).toBe(1);
    const errors = first.proc
      .output()
      .split('\n')
      .filter((line) => line.startsWith('lockfw: '));
    expect(errors).toEqual([
      expect.stringMatching(/lock\.db-wal was deleted under the running lock: stopping/),
    ]);
    expect(first.proc.output()).not.toMatch(/internal error|\n\s+at /);

    // The grant was committed before the WAL went: it must still count.
    const second = await start(dataDir);
    expect((await press(second.client, '8642#')).decision).toMatchObject({
      outcome: 'denied',
      reason: 'used_up',
    });
    second.client.close();
    second.proc.child.kill('SIGTERM');
    expect(await second.proc.exited).toBe(0);
    expect((await runLockfw(['audit', 'verify', '--data', dataDir])).status).toBe(0);
  });
});
