import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const SCRIPT = join(REPO, 'scripts/install-pi.sh');

function install(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync('bash', [SCRIPT, ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/install-pi.sh', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const temp = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tumbler-install-'));
    dirs.push(dir);
    return dir;
  };

  it('--dry-run prints every step, in order, and does none of them', () => {
    const dir = temp();
    const prefix = join(dir, 'opt', 'tumbler');
    const bootConfig = join(dir, 'config.txt');
    writeFileSync(bootConfig, 'dtparam=i2c_arm=on\ndtoverlay=i2c-rtc,ds3231\n');
    const { code, stdout, stderr } = install(['--dry-run', '--prefix', prefix, '--boot-config', bootConfig]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const steps = stdout.split('\n').filter((line) => line.startsWith('[dry-run] '));
    const stamp = /==> Building release 0\.1\.0-(\d{8}T\d{6}Z) in /.exec(stdout)?.[1];
    expect(stamp).toBeDefined();
    const release = `${prefix}/releases/0.1.0-${stamp}`;
    const expected = [
      '[dry-run] apt-get install -y --no-install-recommends gpiod util-linux-extra build-essential python3',
      `[dry-run] tar -C ${REPO} --exclude=./node_modules --exclude=./dist --exclude=./.git --exclude=./hal/linux/native/build -cf - . | tar -C ${release} --no-same-owner -xf -`,
      `[dry-run] npm --prefix ${release} ci --no-audit --no-fund`,
      `[dry-run] node -e 'const D = require("${release}/node_modules/better-sqlite3"); new D(":memory:").close()'`,
      `[dry-run] npm --prefix ${release} rebuild better-sqlite3 --build-from-source   # only if that check fails`,
      `[dry-run] npm --prefix ${release} run build:native`,
      `[dry-run] node -e 'require("${release}/hal/linux/native/build/Release/tumbler_gpio.node")'`,
      `[dry-run] npm --prefix ${release} run build`,
      '[dry-run] groupadd --system gpio   # only if the group is missing',
      '[dry-run] useradd --system --user-group --home-dir /var/lib/lockfw --no-create-home --shell /usr/sbin/nologin lockfw   # only if the user is missing',
      '[dry-run] usermod -aG gpio,input,dialout lockfw',
      '[dry-run] write /etc/udev/rules.d/60-lockfw.rules (mode 0644, owner root:root):',
      '[dry-run] install -d -m 0700 -o lockfw -g lockfw /var/lib/lockfw',
      '[dry-run] install -d -m 0750 -o root -g lockfw /etc/lockfw',
      `[dry-run] install -m 0640 -o root -g lockfw ${REPO}/hal/linux/boards/pi-relay-hat.json /etc/lockfw/board.json   # only if there is none yet`,
      `[dry-run] write ${bootConfig}: the diff above`,
      '[dry-run] install -d -m 0755 -o root -g root /etc/systemd/system.conf.d',
      '[dry-run] write /etc/systemd/system.conf.d/60-lockfw-watchdog.conf: the diff above',
      '[dry-run] systemctl daemon-reexec',
      `[dry-run] install -d -m 0700 -o lockfw -g lockfw /var/lib/lockfw/backups/${stamp}   # only if there is a store`,
      `[dry-run] ln -sfn releases/0.1.0-${stamp} ${prefix}/current.new`,
      `[dry-run] mv -T ${prefix}/current.new ${prefix}/current`,
      `[dry-run] install -m 0644 -o root -g root ${REPO}/scripts/lockfw.service /etc/systemd/system/lockfw.service`,
      '[dry-run] systemctl daemon-reload',
      '[dry-run] systemctl enable lockfw.service',
      '[dry-run] systemctl restart lockfw.service',
      `[dry-run] if it does not start: switch ${prefix}/current back to the previous release, restore /var/lib/lockfw/lock.db from /var/lib/lockfw/backups/${stamp}, start that`,
    ];
    let from = 0;
    for (const line of expected) {
      const at = steps.indexOf(line, from);
      expect(at, `missing or out of order: ${line}`).toBeGreaterThanOrEqual(from);
      from = at + 1;
    }
    expect(stdout).toMatch(/^node v\d+\.\d+\.\d+ at .*: ok$/m);
    expect(stdout).toContain('dry run: nothing below is executed');
    expect(existsSync(prefix)).toBe(false);
    expect(readFileSync(bootConfig, 'utf8')).toBe('dtparam=i2c_arm=on\ndtoverlay=i2c-rtc,ds3231\n');
  });

  it('adds strict_gpiod, the watchdog and the RTC overlay to config.txt with a diff and a dated backup, once', () => {
    const dir = temp();
    const bootConfig = join(dir, 'config.txt');
    writeFileSync(bootConfig, '[pi4]\narm_boost=1\n');
    const { code, stdout } = install(['--dry-run', '--no-start', '--boot-config', bootConfig]);
    expect(code).toBe(0);
    const section = stdout.slice(stdout.indexOf('==> Raspberry Pi boot config'));
    // Under [all], so that a [pi4] (or any conditional) section before it cannot hide it.
    expect(section.split('\n').slice(1, 14)).toEqual([
      `  | --- ${bootConfig}`,
      `  | +++ ${bootConfig} (new)`,
      '  | @@ -1,2 +1,9 @@',
      '  |  [pi4]',
      '  |  arm_boost=1',
      '  | +',
      '  | +# Added by Tumbler install-pi.sh: released GPIO lines return to input and their pull;',
      '  | +# the RTC and the hardware watchdog (docs/hardware.md).',
      '  | +[all]',
      '  | +dtparam=strict_gpiod',
      '  | +dtparam=watchdog=on',
      '  | +dtoverlay=i2c-rtc,ds3231',
      expect.stringMatching(
        new RegExp(`^\\[dry-run\\] cp -p ${bootConfig} ${bootConfig}\\.lockfw-backup-\\d{8}T\\d{6}Z$`),
      ),
    ]);
    expect(readdirSync(dir)).toEqual(['config.txt']);

    writeFileSync(
      bootConfig,
      '[all]\ndtparam=strict_gpiod\ndtparam=watchdog=on\ndtoverlay=i2c-rtc,ds3231,wakeup-source\n',
    );
    const again = install(['--dry-run', '--no-start', '--boot-config', bootConfig]);
    expect(again.stdout).toContain(
      `${bootConfig} already has dtparam=strict_gpiod dtparam=watchdog=on dtoverlay=i2c-rtc,ds3231`,
    );
    expect(again.stdout).not.toContain(`write ${bootConfig}`);

    const missing = install(['--dry-run', '--boot-config', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `install-pi.sh: boot config ${join(dir, 'nope.txt')} not found (--boot-config FILE)\n`,
    );
  });

  it('turns on the hardware watchdog for systemd, shown as a diff', () => {
    const { code, stdout } = install(['--dry-run', '--no-start']);
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    const at = lines.indexOf('  | --- /etc/systemd/system.conf.d/60-lockfw-watchdog.conf');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 3, at + 8)).toEqual([
      '  | +# Tumbler lockfw: systemd pets the hardware watchdog (/dev/watchdog, bcm2835-wdt on a Pi);',
      "  | +# if systemd itself hangs, the board resets. lockfw's own watchdog is WatchdogSec= in its unit.",
      '  | +[Manager]',
      '  | +RuntimeWatchdogSec=15s',
      '  | +RebootWatchdogSec=2min',
    ]);
  });

  it('places the provisioning file 0600 for lockfw and passes it on first start, without printing it', () => {
    const dir = temp();
    const provisioning = join(dir, 'lock-17.json');
    writeFileSync(provisioning, '{"deviceSecret":"00112233445566778899aabbccddeeff"}\n');
    const { code, stdout } = install(['--dry-run', '--provisioning', provisioning, '--no-start']);
    expect(code).toBe(0);
    expect(stdout).toContain(
      `[dry-run] install -m 0600 -o lockfw -g lockfw ${provisioning} /etc/lockfw/provisioning.json`,
    );
    expect(stdout).toContain(
      '[dry-run]   | TUMBLER_FIRST_BOOT_ARGS=--init --provisioning /etc/lockfw/provisioning.json',
    );
    expect(stdout).not.toContain('00112233445566778899aabbccddeeff');
    expect(stdout).not.toContain('systemctl restart');
    expect(stdout).toContain('not starting (--no-start)');
  });

  it('refuses a Node.js older than package.json allows', () => {
    const bin = temp();
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho 18.19.0\n');
    chmodSync(join(bin, 'node'), 0o755);
    const { code, stderr, stdout } = install(['--dry-run'], {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      'install-pi.sh: Node.js >= 20.19 is required (package.json engines); found v18.19.0\n',
    );
    expect(stdout).not.toContain('[dry-run]');
  });

  it('names a missing board file and an unknown option', () => {
    const missing = install(['--dry-run', '--board', '/nonexistent/board.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'install-pi.sh: board file /nonexistent/board.json not found or not readable (--board FILE)\n',
    );
    const unknown = install(['--dry-ru']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('install-pi.sh: unknown option --dry-ru (see --help)\n');
  });

  it('installs a unit that runs lockfw with the Linux HAL, switches outputs off after every stop, never gives up restarting, and logs to journald', () => {
    const unit = readFileSync(join(REPO, 'scripts/lockfw.service'), 'utf8');
    // Node's own flags may come before the script (docs/reliability.md).
    expect(unit).toMatch(
      /^ExecStart=node (--[\w-]+(=\S+)? )*\/opt\/tumbler\/current\/dist\/firmware\/main\.js run --hal linux --board \/etc\/lockfw\/board\.json --data \/var\/lib\/lockfw \$TUMBLER_FIRST_BOOT_ARGS \$LOCKFW_ARGS$/m,
    );
    for (const line of [
      'User=lockfw',
      'SupplementaryGroups=gpio input dialout',
      'Type=notify',
      'NotifyAccess=all',
      'WatchdogSec=30s',
      'ExecStopPost=node /opt/tumbler/current/dist/firmware/main.js outputs-off --board /etc/lockfw/board.json',
      'Restart=always',
      'StartLimitIntervalSec=0',
      'KillMode=mixed',
      'StandardOutput=journal',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/lockfw',
      'DevicePolicy=closed',
      'DeviceAllow=char-gpiochip rw',
      'DeviceAllow=char-input r',
      'DeviceAllow=char-rtc rw',
      'DeviceAllow=char-ttyAMA rw',
      'NoNewPrivileges=yes',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit).not.toMatch(/^PrivateDevices=yes/m);
    expect(unit).not.toMatch(/^StartLimitBurst=/m);
    expect(unit).not.toContain('systemd-udev-settle');
    expect(unit).not.toMatch(/^ProtectClock=yes/m);
  });

  const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;

  it.skipIf(!hasSystemdAnalyze)('has a unit that systemd-analyze verify accepts without a warning', () => {
    const dir = temp();
    copyFileSync(join(REPO, 'scripts/lockfw.service'), join(dir, 'lockfw.service'));
    const result = spawnSync('systemd-analyze', ['verify', join(dir, 'lockfw.service')], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
