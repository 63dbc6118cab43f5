import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockfw } from '../../scripts/chaos/lock-process.ts';
import { LOCKFW } from '../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { privateNetwork } from './private-network.ts';

// A lock that starts Matter joins mDNS groups even when it then fails: those runs stay inside the
// test's own network namespace (only lo), like door-lock.test.ts.
describe('lockfw run --matter: start-up', () => {
  it('refuses to start, in one line, when the Matter port is taken', async () => {
    const dir = tempDir('tumbler-matter-port-');
    const network = await privateNetwork();
    const port = 5540;
    const taker = network.spawn(process.execPath, [
      '-e',
      `require('node:dgram').createSocket({ type: 'udp6', reuseAddr: false }).bind(${port}, '::', () => console.log('bound'));
       process.stdin.on('end', () => process.exit(0)).resume();`,
    ]);
    const closed = new Promise((resolve) => taker.on('close', resolve));
    onCleanup(async () => {
      taker.stdin!.end();
      await closed;
    });
    await new Promise((resolve) => taker.stdout!.once('data', resolve));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ matter: { port, interface: 'lo' } }));
    const data = join(dir, 'data');
    const run = await network.run(process.execPath, [
      LOCKFW,
      'run',
      '--hal',
      'sim',
      '--data',
      data,
      '--init',
      '--config',
      config,
      '--matter',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^lockfw: matter: the node did not start on UDP port ${port}: .*already in use`),
    );
    // Everything started before it was undone: the control socket is gone.
    expect(existsSync(join(data, 'sim.sock'))).toBe(false);
  });

  it('refuses, in one line, a matter.interface this machine does not have', async () => {
    const dir = tempDir('tumbler-matter-interface-');
    const network = await privateNetwork();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ matter: { interface: 'eth0' } })); // the namespace has lo alone
    const data = join(dir, 'data');
    const run = await network.run(process.execPath, [
      LOCKFW,
      'run',
      '--hal',
      'sim',
      '--data',
      data,
      '--init',
      '--config',
      config,
      '--matter',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      'lockfw: matter: no network interface "eth0" (matter.interface) on this machine',
    );
    expect(existsSync(join(data, 'sim.sock'))).toBe(false);
  });

  it('refuses a bad matter setting before anything starts', async () => {
    const dir = tempDir('tumbler-matter-config-');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ matter: { passcode: 12345678 } }));
    const run = await lockfw([
      'run',
      '--hal',
      'sim',
      '--data',
      join(dir, 'data'),
      '--init',
      '--config',
      config,
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/matter\.passcode: must not be one Matter forbids/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});
