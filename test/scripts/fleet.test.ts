import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBroker } from '../helpers/mosquitto.ts';

const FLEET = new URL('../../scripts/fleet.js', import.meta.url).pathname;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function fleet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FLEET, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

describe('npm run fleet (child process)', () => {
  it('runs five locks with keypad traffic, pushes and reconnects, and reports without errors', async () => {
    const run = await fleet(
      '--locks',
      '5',
      '--mqtt',
      broker.url,
      '--duration',
      '3s',
      '--rate',
      '5',
      '--pushes',
      '1',
      '--reconnects',
      '0.5',
      '--prefix',
      'fleettest',
      '--json',
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/locks \d\/5 connected {2}events \d+\/s/);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      locks: 5,
      broker: broker.url,
      startup: { connected: 5 },
      connectedAtEnd: 5,
      errors: { total: 0, byKind: {}, samples: [] },
      lockSync: 'full',
    });
    expect(report.traffic.entries).toBeGreaterThan(0);
    expect(report.traffic.decisions).toBe(report.traffic.entries);
    expect(report.traffic.pushesApplied).toBe(report.traffic.pushes);
    expect(report.events.received).toBeGreaterThanOrEqual(report.traffic.decisions);
    expect(report.latencyMs.samples).toBe(report.traffic.decisions);
    for (const value of [report.latencyMs.p50, report.latencyMs.p99, report.memory.perLockMb])
      expect(Number.isFinite(value)).toBe(true);
  }, 60_000);

  it('names the missing or malformed flag in one line and exits 2', async () => {
    const missing = await fleet('--locks', '5');
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/--mqtt is required/);
    const duration = await fleet('--locks', '5', '--mqtt', broker.url, '--duration', 'soon');
    expect(duration.status).toBe(2);
    expect(duration.stderr).toMatch(/--duration must be like 30s, 2m, 1m30s or PT30S/);
    const locks = await fleet('--locks', 'many', '--mqtt', broker.url);
    expect(locks.status).toBe(2);
    expect(locks.stderr).toMatch(/--locks must be a whole number/);
  });
});
