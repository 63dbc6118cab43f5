import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWhenReady, type LockfwProcess, runLockfw, spawnLockfw } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';

/** A real full file system needs a tiny tmpfs: only root can mount one. */
function mountTinyTmpfs(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const mountPoint = join(tempDir(), 'tmpfs');
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint], {
      stdio: 'ignore',
    });
  } catch {
    return undefined;
  }
  onCleanup(() => execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }));
  return mountPoint;
}

/** Writes a file until the file system is full. */
function fillFileSystem(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

const running: LockfwProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
});

const mountPoint = mountTinyTmpfs();

describe('a full disk under a real lockfw', () => {
  it.skipIf(!mountPoint)(
    'keeps running, refuses, says so, and recovers when space returns',
    async () => {
      const dataDir = join(mountPoint!, 'lock');
      const proc = spawnLockfw(['run', '--hal', 'sim', '--data', dataDir, '--init'], {
        LOCKFW_AUTO_RELOCK_SECONDS: '1',
      });
      running.push(proc);
      const client = await connectWhenReady(proc, join(dataDir, 'sim.sock'));
      const add = await runLockfw(['codes', 'add', '--data', dataDir, '--name', 'resident', '--pin', '8642']);
      expect(add.status, add.stdout + add.stderr).toBe(0);
      const status = async () =>
        ((await client.request('status')) as { status: { lock: string; storage: { writable: boolean } } })
          .status;
      const waitFor = async (check: () => Promise<boolean>) => {
        for (let i = 0; i < 200 && !(await check()); i++)
          await new Promise((resolve) => setTimeout(resolve, 50));
      };

      const granted = client.waitForEvent((event) => event.event === 'decision');
      await client.request('press', { keys: '8642#' });
      expect(await granted).toMatchObject({ decision: { outcome: 'granted' } });
      await waitFor(async () => (await status()).lock === 'unlocked');
      const filler = join(mountPoint!, 'filler');
      fillFileSystem(filler);

      // The auto-relock's row cannot be written: before, an uncaught SQLITE_FULL ended lockfw.
      await waitFor(async () => (await status()).lock === 'locked');
      expect(proc.child.exitCode).toBeNull();
      expect(await status()).toMatchObject({ lock: 'locked', storage: { writable: false, full: true } });
      expect(proc.output()).toContain('storage full');
      await client.request('press', { keys: '8642#' });
      await client.request('press', { keys: '1111#' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(proc.child.exitCode).toBeNull();
      expect(await status()).toMatchObject({ lock: 'locked', storage: { writable: false } });

      rmSync(filler);
      const decision = client.waitForEvent((event) => event.event === 'decision');
      await client.request('press', { keys: '8642#' });
      expect(await decision).toMatchObject({ decision: { outcome: 'granted' } });
      expect((await status()).storage.writable).toBe(true);
      expect(proc.output()).toContain('storage writable again');
      client.close();
      proc.child.kill('SIGTERM');
      await proc.exited;
      expect((await runLockfw(['audit', 'verify', '--data', dataDir])).status).toBe(0);
    },
    60_000,
  );
});
