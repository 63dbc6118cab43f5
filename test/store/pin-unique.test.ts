import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../firmware/firmware.ts';
import { hashPin } from '../../firmware/store/codes.ts';
import { migrate } from '../../firmware/store/db.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { lockfw } from '../../scripts/chaos/lock-process.ts';
import { tempDir } from '../helpers/tmp.ts';

const open: SimLock[] = [];
afterEach(async () => {
  for (const lock of open.splice(0)) await lock.close();
});

async function simLock(dataDir?: string): Promise<SimLock> {
  const lock = await SimLock.create(dataDir ? { dataDir } : {});
  open.push(lock);
  return lock;
}

describe('no two enabled codes share a PIN, on every path that enables one', () => {
  it('codes enable refuses a master whose PIN a guest took while it was disabled', async () => {
    const lock = await simLock();
    const { admin, manager } = lock.firmware;
    const now = manager.wallNow();
    const master = admin.add({ name: 'owner', pin: '258025', role: 'master', enabled: false }, 'test', now);
    const guest = admin.add({ name: 'guest', pin: '258025' }, 'test', now);
    if (!master.ok || !guest.ok) throw new Error('setup failed');

    const enabled = admin.setEnabled(master.code.id, true, 'test', now);
    expect(enabled).toEqual({ ok: false, error: 'duplicate_code', message: expect.any(String) });
    expect(lock.firmware.codes.get(master.code.id)!.enabled).toBe(false);

    // The guest's PIN stays the guest's: vacation mode admits masters only.
    await manager.setMode('vacation', 'test');
    const record = await manager.submitEntry('258025');
    expect(record.decision).toMatchObject({ outcome: 'denied', reason: 'mode_restricted' });
    expect(lock.firmware.audit.latest(5).some((row) => row.type === 'code_enabled')).toBe(false);

    // Once the guest is switched off, the master may be switched on.
    expect(admin.setEnabled(guest.code.id, false, 'test', now).ok).toBe(true);
    expect(admin.setEnabled(master.code.id, true, 'test', now)).toMatchObject({ ok: true });
  });

  it('lockfw codes enable says duplicate_code and exits 1, changing nothing', async () => {
    const dir = tempDir();
    const setup = await simLock(dir);
    const now = setup.firmware.manager.wallNow();
    const master = setup.firmware.admin.add(
      { name: 'owner', pin: '135799', role: 'master', enabled: false },
      'test',
      now,
    );
    setup.firmware.admin.add({ name: 'guest', pin: '135799' }, 'test', now);
    if (!master.ok) throw new Error('setup failed');
    await setup.close();
    open.length = 0;

    const result = await lockfw(['codes', 'enable', '--data', dir, '--id', String(master.code.id)]);
    expect(result.stderr).toContain('refused: duplicate_code');
    expect(result.status).toBe(1);
    const listed = await lockfw(['codes', 'list', '--data', dir, '--json']);
    const owner = (JSON.parse(listed.stdout) as Array<{ name: string; status: string }>).find(
      (code) => code.name === 'owner',
    );
    expect(owner?.status).toBe('disabled');
  });

  it('migration 7 switches off duplicates an older version let in, keeping the one the keypad used', () => {
    const file = join(tempDir(), DB_FILE);
    const db = new Database(file);
    migrate(db, 6);
    const secret = new Uint8Array(32).fill(7);
    const insert = db.prepare(
      `INSERT INTO codes (name, pin_hash, pin_length, kind, role, enabled, created_at, source, backup_assigned)
       VALUES (?, ?, 6, 'ongoing', ?, 1, 0, 'local', 1)`,
    );
    insert.run('guest', hashPin(secret, '246800'), 'standard');
    insert.run('owner', hashPin(secret, '246800'), 'master');
    insert.run('other', hashPin(secret, '999000'), 'standard');
    migrate(db);
    const rows = db.prepare('SELECT name, enabled FROM codes ORDER BY id').all();
    expect(rows).toEqual([
      { name: 'guest', enabled: 1 },
      { name: 'owner', enabled: 0 },
      { name: 'other', enabled: 1 },
    ]);
    // The index is the backstop for any path that forgets the check.
    expect(() => db.prepare('UPDATE codes SET enabled = 1 WHERE name = ?').run('owner')).toThrow(/UNIQUE/);
    db.close();
  });
});
