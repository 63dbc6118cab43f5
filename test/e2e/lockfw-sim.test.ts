import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../firmware/firmware.ts';
import type { ControlClient } from '../../keypad-sim/control-client.ts';
import { connectWhenReady, type LockfwProcess, runLockfw, spawnLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

const running: LockfwProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

async function start(dataDir: string): Promise<{ proc: LockfwProcess; client: ControlClient }> {
  const socket = join(dataDir, 'sim.sock');
  const proc = spawnLockfw(['run', '--hal', 'sim', '--data', dataDir, '--init', '--auto-relock', '5']);
  running.push(proc);
  const client = await connectWhenReady(proc, socket);
  return { proc, client };
}

const lockState = (event: Record<string, unknown>, state: string) =>
  event.event === 'lock' && event.state === state;

describe('lockfw run --hal sim as a child process', () => {
  it('opens for a code added by `lockfw codes add`, relocks, and keeps codes and audit across kill -9', async () => {
    const dataDir = tempDir();
    openStore(dataDir).db.close(); // the store a first `lockfw run --init` makes
    const added = await runLockfw(
      ['codes', 'add', '--data', dataDir, '--name', 'courier', '--pin-stdin'],
      '0426\n',
    );
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);

    const { proc, client } = await start(dataDir);
    const unlocked = client.waitForEvent((e) => lockState(e, 'unlocked'));
    await client.request('press', { keys: '0426#' });
    await unlocked;
    // Virtual time: jump past the auto-relock instead of waiting five real seconds.
    const locked = client.waitForEvent((e) => lockState(e, 'locked'));
    await client.request('advance', { ms: 6000 });
    await locked;
    const status = await client.request('status');
    expect(status.status).toMatchObject({
      lock: 'locked',
      lastDecision: { decision: { outcome: 'granted', code: { name: 'courier' } } },
    });

    // A code added while it runs is seen without a restart.
    expect(
      (await runLockfw(['codes', 'add', '--data', dataDir, '--name', 'late', '--pin', '55555'])).status,
    ).toBe(0);
    const granted = client.waitForEvent((e) => e.event === 'decision');
    await client.request('press', { keys: '55555#' });
    expect(await granted).toMatchObject({ decision: { outcome: 'granted', code: { name: 'late' } } });
    client.close();

    proc.child.kill('SIGKILL');
    expect(await proc.exited).toBe(null);

    const verify = await runLockfw(['audit', 'verify', '--data', dataDir]);
    expect(verify.stdout).toMatch(/audit chain intact/);
    const list = await runLockfw(['codes', 'list', '--data', dataDir, '--json']);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((c) => c.name)).toEqual([
      'courier',
      'late',
    ]);

    const again = await start(dataDir);
    const denied = again.client.waitForEvent((e) => e.event === 'decision');
    await again.client.request('press', { keys: '9999#' });
    expect(await denied).toMatchObject({ decision: { outcome: 'denied', reason: 'unknown_code' } });
    const log = await runLockfw(['audit', 'list', '--data', dataDir, '--type', 'decision', '--json']);
    const decisions = log.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { data: Record<string, unknown> });
    expect(decisions.map((d) => d.data.outcome)).toEqual(['granted', 'granted', 'denied']);
    expect(log.stdout).not.toContain('0426');
    again.client.close();
    again.proc.child.kill('SIGTERM');
    expect(await again.proc.exited).toBe(0);
  });

  it('answers bad control requests with an error and keeps running', async () => {
    const dataDir = tempDir();
    const { client } = await start(dataDir);
    expect(await client.send('press', { keys: '12a#' })).toMatchObject({ ok: false, error: 'bad_request' });
    expect(await client.send('no_such_thing')).toMatchObject({ ok: false, error: 'unknown_command' });
    const complaint = client.waitForEvent((e) => e.event === 'error_reply');
    client.writeRaw('this is not json\n');
    expect(await complaint).toMatchObject({ ok: false, error: 'bad_json' });
    expect(await client.send('status')).toMatchObject({ ok: true, status: { lock: 'locked' } });
    client.close();
  });
});
