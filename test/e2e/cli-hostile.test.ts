import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CodeAdmin } from '../../firmware/admin.ts';
import { openStore } from '../../firmware/firmware.ts';
import { LOCKFW, runLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

/** A store (as `lockfw run --init` makes it) with `count` codes and as many audit rows. */
function makeStore(count: number): string {
  const dataDir = tempDir();
  const store = openStore(dataDir);
  try {
    const admin = new CodeAdmin(store.db, store.codes, store.audit, 1000);
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const added = admin.add({ name: `guest ${i}`, pin: String(100_000 + i * 7) }, 'test', now);
      if (!added.ok) throw new Error(added.message);
    }
  } finally {
    store.db.close();
  }
  return dataDir;
}

/** Runs lockfw with its stdout closed by the reader after the first chunk (`| head -c1`). */
function readFirstChunk(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [LOCKFW, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.once('data', () => child.stdout.destroy());
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, stderr })));
}

describe('lockfw against hostile local input', () => {
  it('a reader that closes the pipe early gets no stack trace: exit 0, nothing on stderr', async () => {
    const dataDir = makeStore(300);
    for (const args of [
      ['audit', 'list', '--data', dataDir, '--limit', '1000', '--json'],
      ['audit', 'list', '--data', dataDir, '--limit', '1000'],
      ['codes', 'list', '--data', dataDir],
      ['audit', 'verify', '--data', dataDir, '--json'],
    ]) {
      const result = await readFirstChunk(args);
      expect(result.stderr, args.join(' ')).toBe('');
      expect(result.status, args.join(' ')).toBe(0);
    }
  });

  it('refuses a flag given twice instead of taking the last', async () => {
    const dataDir = makeStore(1);
    const twice = await runLockfw([
      'codes',
      'add',
      '--data',
      dataDir,
      '--name',
      'x',
      '--pin',
      '4711',
      '--pin',
      '4712',
    ]);
    expect(twice.status).toBe(2);
    expect(twice.stderr.trim()).toBe(
      'lockfw codes add: --pin given more than once; give it once (see lockfw codes add --help)',
    );
    const list = await runLockfw(['audit', 'list', '--data', dataDir, '--limit', '1', '--limit', '500']);
    expect(list.status).toBe(2);
    expect(list.stderr).toMatch(/--limit given more than once/);
    const json = await runLockfw(['codes', 'list', '--data', dataDir, '--json', '--json']);
    expect(json.status).toBe(2);
  });

  it('refuses control characters in a code name; prints names stored before escaped', async () => {
    const dataDir = makeStore(1);
    for (const name of ['evil\u001b[2J', 'bell\u0007', 'two\nlines', 'c1\u009b31m', 'rtl\u202e']) {
      const added = await runLockfw(['codes', 'add', '--data', dataDir, '--name', name, '--pin', '97531']);
      expect(added.status, JSON.stringify(name)).toBe(2);
      expect(added.stderr).toMatch(/name: must not contain control characters/);
    }
    // A name stored before the rule (an older store) is printed, never acted on.
    const store = openStore(dataDir, { init: false });
    try {
      store.db.prepare('UPDATE codes SET name = ? WHERE id = 1').run('old\u001b]0;pwned\u0007\u009b2J\nname');
      store.audit.append('code_added', { code_id: 1, code_name: 'old\u001b[2J\u0085name' }, Date.now());
    } finally {
      store.db.close();
    }
    const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    const list = await runLockfw(['codes', 'list', '--data', dataDir]);
    expect(list.stdout).toContain('old?]0;pwned??2J?name');
    expect(list.stdout).not.toMatch(controls);
    const listJson = await runLockfw(['codes', 'list', '--data', dataDir, '--json']);
    expect(listJson.stdout).not.toMatch(controls);
    expect(JSON.parse(listJson.stdout)[0].name).toBe('old\u001b]0;pwned\u0007\u009b2J\nname');
    const audit = await runLockfw(['audit', 'list', '--data', dataDir, '--limit', '1']);
    expect(audit.stdout).toContain('code_name=old?[2J?name');
    expect(audit.stdout).not.toMatch(controls);
    const auditJson = await runLockfw(['audit', 'list', '--data', dataDir, '--limit', '1', '--json']);
    expect(auditJson.stdout).not.toMatch(controls);
    expect(JSON.parse(auditJson.stdout).data.code_name).toBe('old\u001b[2J\u0085name');
  });
});
