import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { testDir } from './world.ts';

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;

const lockctl = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [LOCKCTL, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });

describe('lockctl api-key and serve: keys stored hashed, argument errors name the argument', () => {
  it('creates a key shown once, stores only its hash in an owner-only file, lists and revokes it', async () => {
    const dbPath = join(testDir(), 'gateway.db');
    const env = { LOCKCTL_DB: dbPath };
    const created = await lockctl(env, 'api-key', 'create', '--name', 'booking system');
    expect(created.status).toBe(0);
    const key = created.stdout.split('\n')[0]!;
    expect(key).toMatch(/^seam_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    const id = key.split('_')[1]!;
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    const secretPart = key.split('_').slice(2).join('_');
    for (const file of [dbPath, `${dbPath}-wal`]) {
      const bytes = (() => {
        try {
          return readFileSync(file).toString('latin1');
        } catch {
          return '';
        }
      })();
      expect(bytes).not.toContain(secretPart);
    }
    const listed = await lockctl(env, 'api-key', 'list');
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('booking system');
    expect(listed.stdout).not.toContain(secretPart);
    expect((await lockctl(env, 'api-key', 'revoke', '--id', id)).status).toBe(0);
    expect(JSON.parse((await lockctl(env, 'api-key', 'list', '--json')).stdout)).toEqual([
      expect.objectContaining({ api_key_id: id, revoked_at: expect.any(String) }),
    ]);
  });

  it('takes the database from --db (a SQLite file or postgres://), before $LOCKCTL_DB', async () => {
    const dir = testDir();
    const elsewhere = { LOCKCTL_DB: join(dir, 'elsewhere.db') };
    const file = join(dir, 'gateway.db');
    const url = await testPostgresDatabase();
    for (const db of [file, url]) {
      const created = await lockctl(
        elsewhere,
        'api-key',
        'create',
        '--db',
        db,
        '--name',
        'workers',
        '--json',
      );
      expect(created.status, created.stderr).toBe(0);
      const { api_key_id } = JSON.parse(created.stdout) as { api_key_id: string };
      const listed = await lockctl(elsewhere, 'api-key', 'list', '--db', db, '--json');
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ api_key_id, name: 'workers' })]);
    }
    // Neither key went to $LOCKCTL_DB.
    expect(JSON.parse((await lockctl(elsewhere, 'api-key', 'list', '--json')).stdout)).toEqual([]);
    const both = await lockctl(elsewhere, 'api-key', 'list', '--db', file, '--gateway-db', file);
    expect(both).toMatchObject({ status: 2, stderr: expect.stringContaining('--db and --gateway-db') });
    expect((await lockctl({}, 'api-key', 'list', '--help')).stdout).toContain('--db FILE|URL');
  });

  it('refuses bad arguments with exit 2 and a message naming the argument', async () => {
    const env = { LOCKCTL_DB: join(testDir(), 'gateway.db') };
    const noName = await lockctl(env, 'api-key', 'create');
    expect(noName).toMatchObject({ status: 2, stderr: expect.stringContaining('--name') });
    const noId = await lockctl(env, 'api-key', 'revoke');
    expect(noId).toMatchObject({ status: 2, stderr: expect.stringContaining('--id') });
    const unknownId = await lockctl(env, 'api-key', 'revoke', '--id', 'feedbeef');
    expect(unknownId).toMatchObject({ status: 1, stderr: expect.stringContaining('no active API key') });
    const badSub = await lockctl(env, 'api-key', 'rotate');
    expect(badSub).toMatchObject({ status: 2, stderr: expect.stringContaining('rotate') });
    const badListen = await lockctl(env, 'serve', '--http', 'localhost');
    expect(badListen).toMatchObject({ status: 2, stderr: expect.stringContaining('--http') });
    const badBroker = await lockctl(env, 'serve', '--http', '127.0.0.1:0', '--mqtt', 'http://x');
    expect(badBroker).toMatchObject({ status: 2, stderr: expect.stringContaining('--mqtt') });
  });
});
