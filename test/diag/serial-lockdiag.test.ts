import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectWhenReady } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { lockdiag, PtyPair, startLockWithConsole } from './pty.ts';

describe('lockfw run --serial over a real pty, driven by lockdiag', () => {
  it('answers status, JSON and errors; the exit status follows the answer; why after a keypad decision', async () => {
    const dir = tempDir();
    const pty = await PtyPair.start(dir);
    const proc = await startLockWithConsole(join(dir, 'data'), pty.a, ['--init']);

    const status = await lockdiag(['--port', pty.b, 'status']);
    expect(status.stderr).toBe('');
    expect(status.status).toBe(0);
    expect(status.stdout.split('\n').slice(0, 3)).toEqual([
      'lock:      locked',
      'mode:      normal',
      'door:      closed',
    ]);
    expect(status.stdout).toMatch(/^versions: +firmware \S+, schema \d+, node v\S+, hal sim$/m);

    const json = await lockdiag(['--port', pty.b, '--json', 'status']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      command: 'status',
      lock: 'locked',
      versions: { hal: 'sim' },
    });

    const unknown = await lockdiag(['--port', pty.b, 'frobnicate']);
    expect(unknown).toMatchObject({
      status: 1,
      stdout: 'error: unknown command "frobnicate"; type help for the list\n',
    });

    const control = await connectWhenReady(proc, join(dir, 'data', 'sim.sock'));
    const decided = control.waitForEvent((event) => event.event === 'decision');
    await control.request('press', { keys: '9999#' });
    await decided;
    control.close();
    const why = await lockdiag(['--port', pty.b, 'why', '1']);
    expect(why.stdout).toMatch(/^\d\d:\d\d entry refused: unknown_code \(no code has this PIN\)\n$/);
    expect(why.stdout).not.toContain('9999');
    const selftest = await lockdiag(['--port', pty.b, '--json', 'selftest']);
    expect(selftest.status).toBe(0);
    expect(JSON.parse(selftest.stdout)).toMatchObject({ ok: true, command: 'selftest', passed: true });
  });
});
