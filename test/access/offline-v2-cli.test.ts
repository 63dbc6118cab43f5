import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveOfflineKeyV2, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';
import { tempDir } from '../helpers/tmp.ts';

/** `lockctl offline-code` issues version 2 codes (a real child process). */

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;

function lockctl(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, LOCKCTL_DB: join(tempDir(), 'gateway.db') };
    execFile(process.execPath, [LOCKCTL, ...args], { timeout: 30_000, env }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('lockctl offline-code --version 2', () => {
  it('issues a stay with check-in, check-out and a variant in a half-hour zone; the lock key accepts it', async () => {
    const dir = tempDir();
    await lockctl('provision', '--device-id', 'villa-3', '--out', dir);
    const file = join(dir, 'villa-3.provisioning.json');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const args = [
      'offline-code',
      '--provisioning',
      file,
      '--version',
      '2',
      '--kind',
      'daily',
      '--start',
      tomorrow,
      '--check-in',
      '15:00',
      '--check-out',
      '11:00',
      '--days',
      '3',
      '--variant',
      '2',
      '--timezone',
      'Asia/Kolkata',
    ];
    const [json, plain] = await Promise.all([lockctl(...args, '--json'), lockctl(...args)]);
    expect(json.status).toBe(0);
    const issued = JSON.parse(json.stdout) as Record<string, string | number>;
    expect(issued).toMatchObject({ kind: 'daily', version: 2, variant: 2, days: 3, length: 15 });
    expect(issued.grouped).toMatch(/^\d{4}-\d{4}-\d{4}-\d{3}$/);
    expect(issued.validFrom).toBe(`${tomorrow}T15:00:00.000+05:30`);
    const key = deriveOfflineKeyV2(readProvisioning(file).secret, 1);
    const at = Date.parse(issued.validFrom as string) + 3_600_000;
    expect(verifyOfflineCode(key, issued.code as string, at, 'Asia/Kolkata')?.fingerprint).toBe(
      issued.fingerprint,
    );
    expect(plain.status).toBe(0);
    expect(plain.stdout.split('\n')[0]).toBe(issued.grouped);
    expect(plain.stdout).toMatch(/daily \(3 days\), version 2, variant 2/);
  });

  it('refuses version 2 fields in one line naming the flag, exit 2', async () => {
    const dir = tempDir();
    await lockctl('provision', '--device-id', 'villa-4', '--out', dir);
    const file = join(dir, 'villa-4.provisioning.json');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const cases: Array<[string[], RegExp]> = [
      [
        ['--kind', 'daily', '--start', tomorrow, '--days', '3', '--check-in', '15:00'],
        /--check-in needs version 2/,
      ],
      [['--version', '3', '--kind', 'one_time', '--start', tomorrow], /--version must be 1 or 2/],
      [
        ['--version', '2', '--kind', 'one_time', '--start', tomorrow, '--variant', '5'],
        /--variant must be a whole number 0-4 for kind one_time \(got 5\)/,
      ],
      [
        [
          '--version',
          '2',
          '--kind',
          'recurring',
          '--start',
          tomorrow,
          '--days-of-week',
          'mon,thu',
          '--from',
          '09:00',
          '--to',
          '13:00',
          '--weeks',
          '10',
        ],
        /--weeks must be a multiple of 4 from 4 to 52 \(got 10\)/,
      ],
    ];
    for (const [flags, message] of cases) {
      const run = await lockctl('offline-code', '--provisioning', file, ...flags);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
  });
});
