import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Writes `value` (raw text) under `key` in the store's state table, behind its back. */
function tamper(dir: string, key: string, value: string): void {
  const db = new Database(join(dir, DB_FILE));
  db.prepare(
    'INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
  db.close();
}

describe('typed state keys, checked on read', () => {
  const damaged: Array<[string, string]> = [
    ['lockout', '{"consecutiveFailures":'],
    ['lockout', '{"consecutiveFailures":-1,"lockoutsInRow":0,"remainingMs":0,"day":"","dailyFailures":0}'],
    ['lockout', '[]'],
    ['settings', '{"mode":"open_sesame","timezone":"UTC"}'],
    ['settings', '{"mode":"normal","timezone":"Mars/Olympus"}'],
    ['sync', '{"appliedRevision":0,"lastCounter":0,"ackedSeq":"12","reported":null}'],
    ['clock', '{"floor":"yesterday","untrusted":null,"lastSyncAt":null,"lastSyncSource":null}'],
    ['clock', 'null'],
  ];
  for (const [key, value] of damaged) {
    it(`refuses to open a store whose ${key} state is ${value.slice(0, 40)}, naming the key`, () => {
      const dir = tempDir();
      openStore(dir).db.close();
      tamper(dir, key, value);
      expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'state_corrupt' }));
      expect(() => openStore(dir)).toThrow(`"${key}"`);
    });
  }

  it('a damaged lockout never resets the counter: the lock refuses to start instead', async () => {
    const dir = tempDir();
    const lock = await SimLock.create({ dataDir: dir });
    for (let i = 0; i < 3; i++) await lock.press('999999#');
    await lock.close();
    tamper(dir, 'lockout', '{"consecutiveFailures": 3, oops');
    await expect(SimLock.create({ dataDir: dir })).rejects.toMatchObject({ code: 'state_corrupt' });
  });

  it('a key without a parser can be neither read nor written', () => {
    const parts = openStore(tempDir());
    expect(() => parts.state.get('no_such_key', {})).toThrow(/no parser/);
    expect(() => parts.state.set('no_such_key', {})).toThrow(/no parser/);
    parts.db.close();
  });
});
