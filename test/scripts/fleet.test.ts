import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBroker } from '../helpers/mosquitto.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';

const FLEET = new URL('../../scripts/fleet.js', import.meta.url).pathname;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function fleet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FLEET, ...args], { timeout: 80_000 }, (error, stdout, stderr) => {
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
      gateways: { processes: 1, dialect: 'sqlite', workerGroup: null, killed: 0 },
      lockProcs: 1,
      startup: { connected: 5 },
      connectedAtEnd: 5,
      errors: { total: 0, byKind: {}, samples: [] },
      lockSync: 'full',
    });
    expect(report.traffic.entries).toBeGreaterThan(0);
    expect(report.traffic.decisions).toBe(report.traffic.entries);
    expect(report.traffic.pushesApplied).toBe(report.traffic.pushes);
    expect(report.latencyMs.samples).toBe(report.traffic.decisions);
    // Every event each lock issued is in the gateway's database, and acknowledged.
    expect(report.exactlyOnce).toMatchObject({ locks: 5, missing: 0, unacknowledged: 0 });
    expect(report.exactlyOnce.events).toBeGreaterThanOrEqual(report.traffic.decisions);
    expect(['locks', 'gateways', 'database', 'broker', 'machine', 'none']).toContain(report.saturated.side);
    for (const value of [
      report.latencyMs.p50,
      report.latencyMs.p99,
      report.memory.perLockMb,
      report.cpu.machinePercent,
    ])
      expect(Number.isFinite(value)).toBe(true);
  }, 60_000);

  it('spreads locks over two processes and the gateway over a worker group on PostgreSQL, one worker SIGKILLed: nothing lost', async () => {
    const db = await testPostgresDatabase();
    const run = await fleet(
      '--locks',
      '6',
      '--lock-procs',
      '2',
      '--gateways',
      '2',
      '--db',
      db,
      '--kill-worker-after',
      '2s',
      '--mqtt',
      broker.url,
      '--duration',
      '4s',
      '--rate',
      '4',
      '--pushes',
      '0',
      '--reconnects',
      '0',
      '--prefix',
      'fleetpg',
      '--json',
    );
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      locks: 6,
      lockProcs: 2,
      gateways: { processes: 2, dialect: 'postgres', workerGroup: 'fleet-fleetpg', killed: 1 },
      connectedAtEnd: 6,
      errors: { total: 0 },
      exactlyOnce: { locks: 6, missing: 0, unacknowledged: 0 },
    });
    // CPU counts processes alive from the traffic's start to its end: the survivor.
    expect(report.cpu.sides.gateways.processes).toBe(1);
    expect(report.cpu.sides.locks.processes).toBe(2);
  }, 90_000);

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
    const workers = await fleet('--locks', '5', '--mqtt', broker.url, '--gateways', '2');
    expect(workers.status).toBe(2);
    expect(workers.stderr).toMatch(/--gateways 2 needs their shared database: --db postgres:/);
  });
});
