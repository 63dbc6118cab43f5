import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveOfflineKey, verifyOfflineCode } from '../../firmware/access/offline.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';
import { tempDir } from '../helpers/tmp.ts';

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

const gatewayDir = mkdtempSync(join(tmpdir(), 'tumbler-lockctl-'));
afterAll(() => rmSync(gatewayDir, { recursive: true, force: true }));

function lockctl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // The gateway database goes to a temporary dir, never the checkout.
    const env = { ...process.env, LOCKCTL_DB: join(gatewayDir, 'gateway.db') };
    execFile(process.execPath, [LOCKCTL, ...args], { timeout: 30_000, env }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** The next whole UTC hour at least two hours away, as ISO. */
const soon = () => new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 2 * 3_600_000).toISOString();

describe('lockctl (child process)', () => {
  it('shows help, and exits 2 on a missing or unknown command', async () => {
    const help = await lockctl('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/offline-code/);
    const none = await lockctl();
    expect(none.status).toBe(2);
    const unknown = await lockctl('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('provision writes a 0600 file once, never printing the secret', async () => {
    const dir = tempDir();
    const out = join(dir, 'prov');
    const run = await lockctl('provision', '--device-id', 'front-door', '--out', out, '--json');
    expect(run.status).toBe(0);
    const path = join(out, 'front-door.provisioning.json');
    expect(JSON.parse(run.stdout)).toMatchObject({ deviceId: 'front-door', path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const record = JSON.parse(readFileSync(path, 'utf8')) as { secret: string; deviceId: string };
    expect(record.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(run.stdout + run.stderr).not.toContain(record.secret);
    const again = await lockctl('provision', '--device-id', 'front-door', '--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
    expect(readFileSync(path, 'utf8')).toContain(record.secret);
    const bad = await lockctl('provision', '--device-id', 'front door!', '--out', out);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--device-id must be 1-64 letters/);
  });

  it('offline-code issues a code the lock with that secret accepts (--json and plain)', async () => {
    const dir = tempDir();
    await lockctl('provision', '--device-id', 'lock-7', '--out', dir);
    const file = join(dir, 'lock-7.provisioning.json');
    const start = soon();
    const [json, plain] = await Promise.all([
      lockctl(
        'offline-code',
        '--provisioning',
        file,
        '--kind',
        'hourly',
        '--start',
        start,
        '--hours',
        '72',
        '--timezone',
        'Europe/Berlin',
        '--json',
      ),
      lockctl(
        'offline-code',
        '--provisioning',
        file,
        '--kind',
        'hourly',
        '--start',
        start,
        '--hours',
        '72',
        '--timezone',
        'Europe/Berlin',
      ),
    ]);
    expect(json.status).toBe(0);
    const issued = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(issued).toMatchObject({
      deviceId: 'lock-7',
      kind: 'hourly',
      keyVersion: 1,
      length: 12,
      hours: 72,
      timezone: 'Europe/Berlin',
    });
    expect(issued.grouped).toMatch(/^\d{4}-\d{4}-\d{4}$/);
    const key = deriveOfflineKey(readProvisioning(file).secret, 1);
    const verified = verifyOfflineCode(
      key,
      issued.code as string,
      Date.parse(start) + 3_600_000,
      'Europe/Berlin',
    );
    expect(verified?.fingerprint).toBe(issued.fingerprint);
    expect(plain.status).toBe(0);
    expect(plain.stdout.split('\n')[0]).toBe(issued.grouped);
    expect(plain.stdout).toContain(`fingerprint  ${issued.fingerprint as string}`);
    expect(plain.stdout).toMatch(/first use by/);
  });

  it('refuses impossible requests and bad flags in one line naming the flag, exit 2', async () => {
    const dir = tempDir();
    await lockctl('provision', '--device-id', 'lock-8', '--out', dir);
    const file = join(dir, 'lock-8.provisioning.json');
    const far = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
    const cases: Array<[string[], RegExp]> = [
      [
        ['--kind', 'hourly', '--start', soon(), '--hours', '700'],
        /--hours must be a whole number 1-672 \(got 700\)/,
      ],
      [
        ['--kind', 'hourly', '--start', soon(), '--hours', 'many'],
        /--hours must be a whole number, got "many"/,
      ],
      [['--kind', 'daily', '--start', far, '--days', '3'], /--start is more than 366 days ahead/],
      [
        [
          '--kind',
          'recurring',
          '--start',
          far.slice(0, 4) + '-01-01',
          '--days-of-week',
          'mon,thu',
          '--from',
          '08:00',
          '--to',
          '09:00',
        ],
        /--days-of-week/,
      ],
      [['--kind', 'weekly', '--start', soon()], /--kind must be one of/],
      [['--kind', 'one_time'], /--start is required/],
      [['--kind', 'one_time', '--start', soon(), '--colour', 'red'], /Unknown option '--colour'/],
    ];
    const runs = await Promise.all(
      cases.map(([args]) => lockctl('offline-code', '--provisioning', file, ...args)),
    );
    runs.forEach((run, i) => {
      expect(run.status, cases[i]![0].join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(cases[i]![1]);
      expect(run.stdout).toBe('');
    });
  });

  it('a bad provisioning file is named by field, never echoing the secret (exit 1)', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.provisioning.json');
    const secretish = 'ab'.repeat(31);
    writeFileSync(
      file,
      JSON.stringify({ deviceId: 'x', secret: secretish, createdAt: '2026-01-01T00:00:00Z' }),
    );
    const run = await lockctl(
      'offline-code',
      '--provisioning',
      file,
      '--kind',
      'one_time',
      '--start',
      soon(),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/secret: must be 64 lowercase hex digits/);
    expect(run.stderr).not.toContain(secretish);
    const help = await lockctl('offline-code', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--days-of-week/);
  });
});
