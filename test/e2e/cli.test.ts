import { describe, expect, it } from 'vitest';
import { openStore } from '../../firmware/firmware.ts';
import { runLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';

describe('lockfw command line', () => {
  it('explains itself', async () => {
    const help = await runLockfw(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Usage: lockfw <command>/);
    for (const command of ['run', 'codes', 'audit']) {
      const sub = await runLockfw([command, '--help']);
      expect(sub.status).toBe(0);
      expect(sub.stdout).toMatch(new RegExp(`lockfw ${command}`));
    }
  });

  it('names a bad flag, a missing data dir and a bad value in one line, exit 2 or 1', async () => {
    const badFlag = await runLockfw(['run', '--hal', 'sim', '--data', '/tmp', '--bogus']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr.trim().split('\n')).toHaveLength(1);
    expect(badFlag.stderr).toMatch(/--bogus/);

    const missing = await runLockfw(['run', '--hal', 'sim', '--data', '/nonexistent/tumbler']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/data dir \/nonexistent\/tumbler does not exist/);

    const badHal = await runLockfw(['run', '--hal', 'esp32', '--data', '/tmp']);
    expect(badHal.status).toBe(2);
    expect(badHal.stderr).toMatch(/--hal must be sim or linux/);
  });

  it('names the missing GPIO chip of a Linux board in one line, exit 1', async () => {
    const dataDir = tempDir();
    const board = new URL('../../hal/linux/boards/pi-relay-hat.json', import.meta.url).pathname;
    const run = await runLockfw(['run', '--hal', 'linux', '--board', board, '--data', dataDir, '--init']);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    // The header chip is looked for by its label first: no outputs can be driven without it.
    expect(run.stderr).toMatch(/board\.gpio\.chip: a GPIO chip labelled "pinctrl-bcm2711" not found/);
    expect(run.stderr).not.toMatch(/internal error/);
  });

  it('validates code flags with clear errors and never echoes the PIN', async () => {
    const dataDir = tempDir();
    openStore(dataDir).db.close(); // the store a first `lockfw run --init` makes
    const shortPin = await runLockfw(['codes', 'add', '--data', dataDir, '--name', 'x', '--pin', '12']);
    expect(shortPin.status).toBe(2);
    expect(shortPin.stderr).toMatch(/pin: must be 4 to 10 digits/);
    expect(shortPin.stderr).not.toMatch(/\b12\b/);

    const badKind = await runLockfw([
      'codes',
      'add',
      '--data',
      dataDir,
      '--name',
      'x',
      '--pin',
      '4711',
      '--kind',
      'weekly',
    ]);
    expect(badKind.status).toBe(2);
    expect(badKind.stderr).toMatch(/kind: must be one of ongoing, time_bound, one_time, recurring/);

    const noWindow = await runLockfw([
      'codes',
      'add',
      '--data',
      dataDir,
      '--name',
      'x',
      '--pin',
      '4711',
      '--kind',
      'time_bound',
    ]);
    expect(noWindow.stderr).toMatch(/time_bound needs both starts_at and ends_at/);

    const ok = await runLockfw([
      'codes',
      'add',
      '--data',
      dataDir,
      '--name',
      'cleaner',
      '--pin',
      '4711',
      '--kind',
      'recurring',
      '--days',
      'tue,thu',
      '--from',
      '10:00',
      '--to',
      '12:00',
      '--json',
    ]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, code: { name: 'cleaner', kind: 'recurring' } });
    const dup = await runLockfw(['codes', 'add', '--data', dataDir, '--name', 'y', '--pin', '4711']);
    expect(dup.status).toBe(1);
    expect(dup.stderr).toMatch(/duplicate_code/);
    expect(dup.stderr).not.toContain('4711');
  });
});
