import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.ts';

const BENCH = new URL('../../scripts/bench.js', import.meta.url).pathname;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function bench(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BENCH, ...args], { timeout: 150_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

// Checks that the bench runs and what it writes; never how fast anything is.
describe('npm run bench --quick (child process)', () => {
  it('runs every bench, prints the table and writes finite rows as JSON', async () => {
    const out = join(tempDir(), 'results.json');
    const run = await bench('--quick', '--out', out);
    expect(run.stderr).not.toMatch(/FAILED/);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/measurement\s+value\s+baseline\s+ratio\s+target\s+pass/);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results).toMatchObject({
      machine: { cpus: expect.any(Number), node: process.version, platform: process.platform },
      quick: true,
      errors: [],
    });
    expect(Number.isNaN(Date.parse(results.at))).toBe(false);
    const benches = new Set(results.rows.map((row: { bench: string }) => row.bench));
    expect([...benches].sort()).toEqual(['boot', 'decision', 'matter', 'offline', 'outbox', 'seam', 'store']);
    for (const row of results.rows) {
      expect(row).toMatchObject({
        name: expect.any(String),
        unit: expect.any(String),
        baselineName: expect.any(String),
        target: expect.any(String),
        pass: expect.any(Boolean),
      });
      for (const field of ['value', 'baseline', 'ratio']) {
        expect(Number.isFinite(row[field]), `${row.name}: ${field}`).toBe(true);
        expect(row[field], `${row.name}: ${field}`).toBeGreaterThan(0);
      }
    }
  }, 160_000);

  it('refuses an unknown bench name with one line naming the flag', async () => {
    const run = await bench('--only', 'warp');
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--only must name benches among decision, offline, store, outbox, boot/);
  });
});
