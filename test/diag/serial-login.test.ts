import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveTechKey, mintTechToken } from '../../firmware/diag/tech-token.ts';
import { createProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { connectWhenReady } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { lockdiag, PtyPair, RawTerminal, startLockWithConsole } from './pty.ts';

describe('technician login over a real pty', () => {
  it('logs in with a token from the provisioning file; locks login out after wrong tokens; stops on SIGTERM', async () => {
    const dir = tempDir();
    const provisioning = join(dir, 'door-7.provisioning.json');
    const record = createProvisioning('door-7');
    writeProvisioning(provisioning, record);
    const pty = await PtyPair.start(dir);
    const proc = await startLockWithConsole(join(dir, 'data'), pty.a, [
      '--init',
      '--provisioning',
      provisioning,
    ]);
    const token = mintTechToken(deriveTechKey(record.secret), 'door-7', 3_600_000, Date.now());

    // --login: the token from the environment, logged out again afterwards.
    const changed = await lockdiag(['--port', pty.b, '--login', 'mode', 'set', 'vacation'], {
      env: { LOCKDIAG_TOKEN: token },
    });
    expect(changed.stderr).toBe('');
    expect(changed).toMatchObject({ status: 0, stdout: 'mode: vacation (was normal)\n' });
    const control = await connectWhenReady(proc, join(dir, 'data', 'sim.sock'));
    expect((await control.request('status')).status).toMatchObject({ mode: 'vacation' });
    control.close();

    // `login` reads the token from standard input; the session then lasts across lockdiag runs.
    const login = await lockdiag(['--port', pty.b, 'login'], { input: `${token}\n` });
    expect(login.status).toBe(0);
    expect(login.stdout).toMatch(/^logged in as technician until/);
    expect(login.stdout).not.toContain(token);
    const normal = await lockdiag(['--port', pty.b, 'mode', 'set', 'normal']);
    expect(normal).toMatchObject({ status: 0, stdout: 'mode: normal (was vacation)\n' });

    // As a technician would type in picocom: logout, then wrong tokens.
    const wrong = mintTechToken(deriveTechKey(new Uint8Array(32).fill(1)), 'door-7', 3_600_000, Date.now());
    const terminal = await RawTerminal.open(pty.b);
    await terminal.write('\x15logout\r');
    await terminal.waitFor(/logged out\r\ndoor-7> $/);
    await terminal.write(`login ${wrong}\r`);
    await terminal.waitFor(
      /that token does not verify for this lock; 4 attempts left before a lockout\r\ndoor-7> $/,
    );
    await terminal.write(`login ${wrong}\r`.repeat(4));
    await terminal.waitFor(/login is now locked out for 5m 00s/);
    expect(terminal.received).not.toContain(wrong.split('.')[2]);
    await terminal.close();
    const locked = await lockdiag(['--port', pty.b, 'login'], { env: { LOCKDIAG_TOKEN: token } });
    expect(locked.status).toBe(1);
    expect(locked.stdout).toMatch(/^error: login is locked out for \dm \d\ds more \(wrong tokens\)$/m);
    expect(proc.output()).not.toContain(token);
    expect(proc.output()).not.toContain(wrong);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
