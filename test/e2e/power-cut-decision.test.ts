import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { issueOfflineCode } from '../../firmware/access/offline-issue.ts';
import { openStore } from '../../firmware/firmware.ts';
import { offlineKeyVersion } from '../../firmware/offline-path.ts';
import { connectWhenReady, type LockfwProcess, runLockfw, spawnLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

const running: LockfwProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

async function boot(dataDir: string) {
  const proc = spawnLockfw(['run', '--hal', 'sim', '--data', dataDir, '--init']);
  running.push(proc);
  const client = await connectWhenReady(proc, join(dataDir, 'sim.sock'));
  return { proc, client };
}

/** Types `keys` with the process armed to SIGKILL itself between the commit and the relay. */
async function pressAndCut(dataDir: string, keys: string): Promise<void> {
  const { proc, client } = await boot(dataDir);
  await client.request('arm_crash', { point: 'after_commit' });
  await client.request('press', { keys });
  await proc.exited;
  expect(proc.child.signalCode).toBe('SIGKILL');
  client.close();
}

async function decide(dataDir: string, keys: string) {
  const { proc, client } = await boot(dataDir);
  const decision = client.waitForEvent((e) => e.event === 'decision');
  await client.request('press', { keys });
  const result = (await decision) as unknown as { decision: { outcome: string; reason?: string } };
  client.close();
  proc.child.kill('SIGTERM');
  await proc.exited;
  return result.decision;
}

async function auditTypes(dataDir: string): Promise<string[]> {
  const out = await runLockfw(['audit', 'list', '--data', dataDir, '--limit', '1000', '--json']);
  return out.stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { type: string }).type);
}

describe('power cut between the decision and the relay (SIGKILL of a real lockfw)', () => {
  it('a stored one_time code stays used: it never opens twice', async () => {
    const dataDir = tempDir();
    openStore(dataDir).db.close(); // the store a first `lockfw run --init` makes
    expect(
      (
        await runLockfw([
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
        ])
      ).status,
    ).toBe(0);
    await pressAndCut(dataDir, '8642#');
    const types = await auditTypes(dataDir);
    expect(types.at(-1)).toBe('decision'); // committed, and nothing after it: the relay never moved
    expect(types).not.toContain('lock_state');
    expect(await decide(dataDir, '8642#')).toMatchObject({ outcome: 'denied', reason: 'used_up' });
    expect((await runLockfw(['audit', 'verify', '--data', dataDir])).status).toBe(0);
  });

  it('an offline one_time code stays used: it never opens twice', async () => {
    const dataDir = tempDir();
    await boot(dataDir).then(({ proc, client }) => {
      client.close();
      proc.child.kill('SIGTERM');
      return proc.exited;
    });
    const store = openStore(dataDir);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const code = issueOfflineCode(
      store.secret,
      offlineKeyVersion(store),
      { kind: 'one_time', start: hour },
      { timezone: 'UTC' },
    );
    store.db.close();
    await pressAndCut(dataDir, `${code.code}#`);
    expect(await decide(dataDir, `${code.code}#`)).toMatchObject({ outcome: 'denied', reason: 'used_up' });
  });
});
