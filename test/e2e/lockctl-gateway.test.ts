import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectWhenReady, type LockfwProcess, spawnLockfw } from '../helpers/lockfw-process.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;
let broker: TestBroker;
const children: Array<ChildProcess | LockfwProcess['child']> = [];

beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('lockctl as the gateway, against lockfw over a real broker', () => {
  it('provisions, pushes codes, follows events, and sends signed commands', async () => {
    const dir = tempDir();
    const env = { ...process.env, LOCKCTL_DB: join(dir, 'gateway.db'), LOCKCTL_MQTT: broker.url };
    const lockctl = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [LOCKCTL, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
          resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
        });
      });

    expect((await lockctl('provision', '--device-id', 'door1', '--out', dir)).status).toBe(0);
    const dataDir = join(dir, 'lock');
    // A loaded machine can take longer than the default 2 s for a time-sync round trip.
    const config = join(dir, 'lockfw.json');
    writeFileSync(config, JSON.stringify({ mqtt: { url: broker.url, timeSyncMaxRoundTripMs: 60_000 } }));
    const lock = spawnLockfw([
      'run',
      '--hal',
      'sim',
      '--data',
      dataDir,
      '--init',
      '--provisioning',
      join(dir, 'door1.provisioning.json'),
      '--config',
      config,
    ]);
    children.push(lock.child);
    const control = await connectWhenReady(lock, join(dataDir, 'sim.sock'), 60_000);
    await waitUntil(() => lock.output().includes('mqtt connected'), 60_000, 'the lock to connect');

    const follower = spawn(process.execPath, [LOCKCTL, 'events', '--follow', '--device', 'door1', '--json'], {
      env,
    });
    children.push(follower);
    let followed = '';
    let followerLog = '';
    follower.stdout.on('data', (chunk: Buffer) => {
      followed += chunk.toString();
    });
    follower.stderr.on('data', (chunk: Buffer) => {
      followerLog += chunk.toString();
    });
    // Printed once its subscriptions are acknowledged by the broker.
    await waitUntil(
      () => followerLog.includes('lockctl events: following'),
      30_000,
      'the follower to subscribe',
    );

    writeFileSync(
      join(dir, 'codes.json'),
      JSON.stringify([
        { ref: 'guest-1', name: 'guest', pin: '24680', kind: 'ongoing' },
        { ref: 'bad-1', name: 'bad', pin: '1', kind: 'ongoing' },
      ]),
    );
    const push = await lockctl(
      'codes',
      'push',
      '--device',
      'door1',
      '--file',
      join(dir, 'codes.json'),
      '--encrypt-pins',
      '--json',
    );
    expect(push.status).toBe(1); // one code was refused
    const report = JSON.parse(push.stdout);
    expect(report.codes).toEqual([
      { ref: 'guest-1', name: 'guest', status: 'set' },
      {
        ref: 'bad-1',
        name: 'bad',
        status: 'error',
        error: 'invalid_code',
        message: 'pin: must be 4 to 10 digits',
      },
    ]);
    const status = await lockctl('codes', 'status', '--device', 'door1', '--json');
    expect(JSON.parse(status.stdout)).toMatchObject({ revision: report.revision });

    await control.request('press', { keys: '24680#' });
    await waitUntil(
      () => followed.includes('"type":"decision"'),
      60_000,
      'the decision event at the gateway',
    );
    const decision = followed
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .find((e) => e.type === 'decision');
    expect(decision).toMatchObject({ deviceId: 'door1', data: { outcome: 'granted', code_name: 'guest' } });
    expect(followed).not.toContain('24680');

    expect(await lockctl('mode', 'set', 'vacation', '--device', 'door1')).toMatchObject({ status: 0 });
    const lockStatus = await lockctl('status', '--device', 'door1', '--json');
    expect(JSON.parse(lockStatus.stdout)).toMatchObject({ ok: true, result: { mode: 'vacation' } });
    const sync = await lockctl('time', 'sync', '--device', 'door1', '--json');
    expect(JSON.parse(sync.stdout)).toMatchObject({ ok: true, result: { accuracy_ms: expect.any(Number) } });
    const unlock = await lockctl('unlock', '--device', 'door1');
    expect(unlock.status).toBe(0);
    const refused = await lockctl('revoke-offline', '--device', 'door1', '--fingerprint', 'xyz');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/invalid_fingerprint/);
    const unknown = await lockctl('unlock', '--device', 'nosuch');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/device nosuch is not registered/);
    control.close();
  }, 240_000);
});
