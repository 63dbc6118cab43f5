import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectWhenReady, runLockfw } from '../helpers/lockfw-process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { lockdiag, PtyPair, RawTerminal, startLockWithConsole, waitForOutput } from './pty.ts';

function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
    bytes[i] = state >> 16;
  }
  return bytes;
}

describe('serial console over a real pty: bad input and a pulled cable', () => {
  it('garbage, a 10,000-character line, binary noise, unknown commands: errors, no lost decision', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    const pty = await PtyPair.start(dir);
    const proc = await startLockWithConsole(dataDir, pty.a, ['--init']);
    expect(
      (await runLockfw(['codes', 'add', '--data', dataDir, '--name', 'resident', '--pin', '2468'])).status,
    ).toBe(0);
    const control = await connectWhenReady(proc, join(dataDir, 'sim.sock'));
    const terminal = await RawTerminal.open(pty.b);

    await terminal.write(`${'x'.repeat(10_000)}\r`);
    await terminal.waitFor(
      /error: line too long \(over 256 characters\); it was dropped\r\nlock-1> $/,
      30_000,
    );
    terminal.received = '';
    await terminal.write('frobnicate\rreboot --now\r');
    await terminal.waitFor(
      /unknown command "frobnicate".*\r\n[\s\S]*unknown command "reboot --now".*\r\nlock-1> $/,
      30_000,
    );

    // A keypad entry is decided while binary noise pours in: 64 KiB, about six seconds of
    // a 115200-baud line (a pty has no baud limit, and a loaded machine echoes it slowly).
    const decided = control.waitForEvent((event) => event.event === 'decision');
    const flood = terminal.write(noise(64 * 1024, 11));
    await control.request('press', { keys: '2468#' });
    expect(await decided).toMatchObject({ decision: { outcome: 'granted', code: { name: 'resident' } } });
    await flood;
    await terminal.write('\x03');
    terminal.received = '';
    await terminal.write('\x15status\r');
    await terminal.waitFor(
      /lock: +(unlocking|unlocked|locking|locked)[\s\S]*versions:.*\r\nlock-1> /,
      120_000,
    );
    await terminal.close();

    const status = await lockdiag(['--port', pty.b, 'status']);
    expect(status.status).toBe(0);
    expect(proc.child.exitCode).toBeNull();
    const verify = await runLockfw(['audit', 'verify', '--data', dataDir]);
    expect(verify.stdout).toMatch(/audit chain intact/);
    control.close();
  }, 240_000);

  it('recovers when the far end closes, and when the pty vanishes and comes back (reopen with backoff)', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    const pty = await PtyPair.start(dir);
    const proc = await startLockWithConsole(dataDir, pty.a, ['--init']);
    const control = await connectWhenReady(proc, join(dataDir, 'sim.sock'));

    // The technician's side closes and opens again: same console, still answering.
    const first = await RawTerminal.open(pty.b);
    await first.write('version\r');
    await first.waitFor(/tumbler firmware/, 30_000);
    await first.close();
    expect((await lockdiag(['--port', pty.b, 'version'])).status).toBe(0);

    // The cable is pulled: the pty disappears. The lock runs on; the console reopens when it is back.
    await pty.kill();
    await waitForOutput(proc, /serial console lost its port; reopening/, 30_000);
    expect((await control.request('status')).status).toMatchObject({ lock: 'locked' });
    // It tries to reopen while the port is gone, and keeps trying (with backoff) after the failure.
    await waitForOutput(proc, /serial console cannot open its port; retrying/, 30_000);
    await pty.restart();
    await waitForOutput(proc, /serial console open/, 30_000, 2);
    const again = await lockdiag(['--port', pty.b, 'status']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^lock: +locked$/m);
    expect(proc.child.exitCode).toBeNull();
    control.close();
  });
});
