import {
  chmodSync,
  copyFileSync,
  lstatSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { onStoreFilesChanged } from '../../firmware/store/db.ts';
import { writeFileDurably } from '../../firmware/store/durable-file.ts';
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

describe('files that hold secrets', () => {
  it('are 0600 even when a stale temporary file (wider, or a symlink) lies where they are written', () => {
    const dir = tempDir();
    const path = join(dir, 'device.key');
    writeFileSync(`${path}.tmp`, 'stale', { mode: 0o644 });
    chmodSync(`${path}.tmp`, 0o644);
    writeFileDurably(path, 'secret\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const elsewhere = join(dir, 'elsewhere');
    writeFileSync(elsewhere, 'untouched', { mode: 0o644 });
    symlinkSync(elsewhere, `${path}.tmp`);
    writeFileDurably(path, 'secret 2\n');
    expect(readFileSync(elsewhere, 'utf8')).toBe('untouched');
    expect(lstatSync(path).isFile()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('secret 2\n');
  });
});
