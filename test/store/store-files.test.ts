import { copyFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { onStoreFilesChanged } from '../../firmware/store/db.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('the files a store opened are checked before every transaction', () => {
  it('refuses a commit once lock.db-wal is deleted, and tells the listener', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const heard: string[] = [];
    onStoreFilesChanged(parts.db, (error) => heard.push(error.code));
    const append = parts.db.transaction(() => parts.audit.append('test', {}, Date.now()));
    append();
    rmSync(join(dir, `${DB_FILE}-wal`));
    expect(() => append()).toThrow(expect.objectContaining({ code: 'store_files_changed' }));
    expect(heard).toEqual(['store_files_changed']);
    parts.db.close();
  });

  it('refuses a commit once lock.db is replaced by another file', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    copyFileSync(join(dir, DB_FILE), join(dir, 'copy.db'));
    renameSync(join(dir, 'copy.db'), join(dir, DB_FILE));
    expect(() => parts.db.transaction(() => parts.audit.append('test', {}, Date.now()))()).toThrow(
      /lock\.db was replaced under the running lock/,
    );
    parts.db.close();
  });
});
