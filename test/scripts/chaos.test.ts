import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.ts';

const CHAOS = new URL('../../scripts/chaos.js', import.meta.url).pathname;

describe('npm run chaos (a short campaign)', () => {
  it('kills a real lockfw during one_time use, desired apply and publishing, restarts the broker, and finds no violation', async () => {
    const out = join(tempDir(), 'chaos.json');
    const run = await new Promise<{ status: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [CHAOS, '--seed', '4242', '--runs', '1', '--steps', '6', '--json', out],
        { timeout: 120_000 },
        (error, stdout) => {
          resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout });
        },
      );
    });
    expect(run.stdout).toMatch(/violations 0/);
    expect(run.status).toBe(0);
    const summary = JSON.parse(readFileSync(out, 'utf8'));
    expect(summary).toMatchObject({ seed: 4242, runs: 1, steps: 6, violations: [] });
    expect(summary.kills).toBeGreaterThan(0);
    expect(summary.events).toBeGreaterThan(0);
  }, 150_000);
});
