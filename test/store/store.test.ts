import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { CodeAdmin } from '../../firmware/admin.ts';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { hashPin } from '../../firmware/store/codes.ts';
import { migrate, openDatabase, schemaVersion } from '../../firmware/store/db.ts';
import { MIGRATIONS } from '../../firmware/store/migrations.ts';
import { createDeviceSecret, DEVICE_KEY_FILE } from '../../firmware/store/secret.ts';
import { tempDir } from '../helpers/tmp.ts';

const spec = (input: Record<string, unknown>) => {
  const parsed = parseCodeSpec(input);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
};

describe('store on disk', () => {
  it('sets the durability pragmas on every open', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'x.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it('creates a 0600 device key at first boot and keeps it across reopen', () => {
    const dir = tempDir();
    const first = openStore(dir);
    first.db.close();
    const keyFile = join(dir, DEVICE_KEY_FILE);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const second = openStore(dir);
    expect(Buffer.from(second.secret).equals(Buffer.from(first.secret))).toBe(true);
    second.db.close();
  });

  it('keeps codes across restart and stores only keyed hashes, never the PIN', () => {
    const dir = tempDir();
    const store = openStore(dir);
    const admin = new CodeAdmin(store.db, store.codes, store.audit, 1000);
    const added = admin.addSpec(spec({ name: 'front door', pin: '0071234' }), 'test', Date.now());
    expect(added.ok).toBe(true);
    store.db.close();

    const reopened = openStore(dir);
    expect(reopened.codes.findByPin('0071234')?.name).toBe('front door');
    expect(reopened.codes.findByPin('71234')).toBeUndefined(); // leading zeros matter
    const row = reopened.db.prepare('SELECT pin_hash FROM codes').get() as { pin_hash: string };
    expect(row.pin_hash).toBe(hashPin(reopened.secret, '0071234'));
    reopened.db.pragma('wal_checkpoint(TRUNCATE)');
    reopened.db.close();
    const bytes = readFileSync(join(dir, DB_FILE)).toString('latin1');
    expect(bytes).not.toContain('0071234');
    expect(bytes).toContain('front door');
  });

  it('refuses a duplicate of an enabled code and a code past capacity, changing nothing', () => {
    const dir = tempDir();
    const store = openStore(dir);
    const admin = new CodeAdmin(store.db, store.codes, store.audit, 2);
    expect(admin.addSpec(spec({ name: 'a', pin: '1111' }), 't', 1).ok).toBe(true);
    expect(admin.addSpec(spec({ name: 'b', pin: '1111' }), 't', 1)).toMatchObject({
      ok: false,
      error: 'duplicate_code',
    });
    expect(admin.addSpec(spec({ name: 'b', pin: '2222' }), 't', 1).ok).toBe(true);
    const auditRows = store.audit.lastSeq();
    expect(admin.addSpec(spec({ name: 'c', pin: '3333' }), 't', 1)).toMatchObject({
      ok: false,
      error: 'no_space',
    });
    expect(store.codes.count()).toBe(2);
    expect(store.audit.lastSeq()).toBe(auditRows);
    store.db.close();
  });

  it('migrates a database made by the foundation schema (v1) and keeps its codes working', () => {
    const dir = tempDir();
    const secret = createDeviceSecret(dir);
    const v1 = new Database(join(dir, DB_FILE));
    migrate(v1, 1);
    v1.prepare(
      'INSERT INTO codes (name, pin_hash, pin_length, kind, enabled, created_at) VALUES (?, ?, ?, ?, 1, ?)',
    ).run('legacy', hashPin(secret, '4321'), 4, 'ongoing', 1000);
    expect(schemaVersion(v1)).toBe(1);
    v1.close();

    const store = openStore(dir);
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.length);
    expect(store.codes.findByPin('4321')).toMatchObject({
      name: 'legacy',
      role: 'standard',
      uses: 0,
      source: 'local',
      updatedAt: 1000,
    });
    store.db.close();
  });

  it('refuses a database from newer firmware', () => {
    const dir = tempDir();
    const db = new Database(join(dir, 'new.db'));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(join(dir, 'new.db'))).toThrow(/newer than this firmware/);
  });
});

describe('audit hash chain', () => {
  it('verifies an intact chain and names the first edited or missing row', () => {
    const dir = tempDir();
    const store = openStore(dir);
    for (let i = 0; i < 5; i++)
      store.audit.append('decision', { outcome: 'denied', reason: 'unknown_code', i }, 1000 + i);
    expect(store.audit.verify()).toMatchObject({ ok: true, rows: 5 });
    store.db.prepare("UPDATE audit SET data = replace(data, 'unknown_code', 'expired') WHERE seq = 3").run();
    expect(store.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3 });
    return store.audit.verifyInSlices(2).then((sliced) => {
      expect(sliced).toMatchObject({ ok: false, firstBrokenSeq: 3 });
      store.db.close();
    });
  });

  it('the sliced walk agrees with the whole walk on an intact chain', async () => {
    const store = openStore(tempDir());
    for (let i = 0; i < 7; i++) store.audit.append('x', { i }, i);
    expect(await store.audit.verifyInSlices(3)).toMatchObject({ ok: true, rows: 7 });
    store.db.close();
  });

  it('names a deleted row', () => {
    const dir2 = tempDir();
    const other = openStore(dir2);
    for (let i = 0; i < 5; i++) other.audit.append('x', { i }, i);
    other.db.prepare('DELETE FROM audit WHERE seq = 2').run();
    expect(other.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 3 });
    other.db.close();
  });
});
