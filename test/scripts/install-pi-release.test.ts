import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const SCRIPT = join(REPO, 'scripts/install-pi.sh');
const ADDON = join(REPO, 'hal/linux/native/build/Release/tumbler_gpio.node');

/**
 * The installer for real (not --dry-run) into a fake root (--root), with PATH shims
 * for what would change the machine: apt-get, systemd, udev, user management, and
 * npm (whose `ci` links this checkout's node_modules and whose `build` writes the two
 * files the installer runs). The systemd shim "starts" the release `current` points
 * at, and fails to start one carrying a BROKEN file after "migrating" the store, as a
 * bad release would.
 */
function fakeMachine() {
  const dir = mkdtempSync(join(tmpdir(), 'tumbler-install-root-'));
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  for (const path of [root, bin, state, join(root, 'boot', 'firmware')]) mkdirSync(path, { recursive: true });
  writeFileSync(join(root, 'boot', 'firmware', 'config.txt'), '[pi4]\narm_boost=1\n');
  const shim = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >>"${state}/calls.log"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const name of ['apt-get', 'udevadm', 'groupadd', 'useradd', 'usermod', 'chown']) shim(name, 'exit 0');
  // The service user does not exist here: owners are dropped, modes kept.
  shim(
    'install',
    `args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift 2 ;; *) args+=("$1"); shift ;; esac; done
exec /usr/bin/install "\${args[@]}"`,
  );
  shim(
    'npm',
    `prefix=$2; shift 2
case "$*" in
  ci*) ln -s "${REPO}/node_modules" "$prefix/node_modules" ;;
  "run build:native") mkdir -p "$prefix/hal/linux/native/build/Release" && cp "${ADDON}" "$prefix/hal/linux/native/build/Release/" ;;
  "run build")
    mkdir -p "$prefix/dist/hal/linux" "$prefix/dist/firmware"
    echo 'import { readFileSync } from "node:fs"; export async function loadBoardConfig(file) { JSON.parse(readFileSync(file, "utf8")); }' >"$prefix/dist/hal/linux/board-config.js"
    echo '// lockfw' >"$prefix/dist/firmware/main.js"
    [ -z "$FAKE_BROKEN" ] || touch "$prefix/BROKEN" ;;
esac
exit 0`,
  );
  shim(
    'systemctl',
    `current="${root}/opt/tumbler/current"
start() {
  if [ -e "$current/BROKEN" ]; then
    node -e 'new (require(process.argv[1]))(process.argv[2]).exec("create table migrated_by_broken (x)")' "${REPO}/node_modules/better-sqlite3" "${root}/var/lib/lockfw/lock.db" 2>/dev/null
    echo failed >"${state}/service"; exit 1
  fi
  echo "active $(readlink "$current")" >"${state}/service"
}
case "$1" in
  restart|start) start ;;
  stop) echo inactive >"${state}/service" ;;
  is-active) grep -q '^active' "${state}/service" ;;
  *) exit 0 ;;
esac`,
  );
  const install = (env: Record<string, string> = {}) => {
    const result = spawnSync('bash', [SCRIPT, '--root', root, '--rtc-overlay', 'ds3231'], {
      cwd: REPO,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const current = () => readlinkSync(join(root, 'opt', 'tumbler', 'current'));
  const releases = () => readdirSync(join(root, 'opt', 'tumbler', 'releases')).sort();
  const tables = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return (
        db.prepare("select name from sqlite_master where type = 'table' order by name").all() as Array<{
          name: string;
        }>
      ).map((row) => row.name);
    } finally {
      db.close();
    }
  };
  const second = () => new Promise((resolve) => setTimeout(resolve, 1100)); // release names are stamped to the second
  return {
    dir,
    root,
    state,
    install,
    current,
    releases,
    tables,
    second,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

describe('scripts/install-pi.sh into a versioned release', () => {
  const machines: Array<{ remove(): void }> = [];
  afterEach(() => {
    for (const machine of machines.splice(0)) machine.remove();
  });

  it('builds a release beside the running one, backs the store up, switches atomically and rolls a failed start back', async () => {
    const m = fakeMachine();
    machines.push(m);
    const first = m.install();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const a = m.current();
    expect(a).toMatch(/^releases\/0\.1\.0-\d{8}T\d{6}Z$/);
    expect(first.stdout).toContain('no store yet (/var/lib/lockfw/lock.db): nothing to back up');
    expect(readFileSync(join(m.state, 'service'), 'utf8')).toBe(`active ${a}\n`);
    // The unit runs whatever current points at.
    expect(readFileSync(join(m.root, 'etc/systemd/system/lockfw.service'), 'utf8')).toMatch(
      /^ExecStart=node .*\/opt\/tumbler\/current\/dist\/firmware\/main\.js run --hal linux /m,
    );
    // config.txt: strict_gpiod, the watchdog and the RTC overlay, under [all], the old file kept.
    const boot = readdirSync(join(m.root, 'boot', 'firmware'));
    expect(boot.filter((name) => name.startsWith('config.txt.lockfw-backup-'))).toHaveLength(1);
    expect(readFileSync(join(m.root, 'boot/firmware/config.txt'), 'utf8')).toMatch(
      /^\[pi4\]\narm_boost=1\n\n# Added by Tumbler install-pi\.sh[^\n]*\n#[^\n]*\n\[all\]\ndtparam=strict_gpiod\ndtparam=watchdog=on\ndtoverlay=i2c-rtc,ds3231\n$/,
    );
    // The calls a running lock would notice: the service is never stopped to build.
    const calls = readFileSync(join(m.state, 'calls.log'), 'utf8');
    expect(calls).not.toContain('systemctl stop');

    // The lock has been running: it has a store.
    const db = join(m.root, 'var/lib/lockfw/lock.db');
    new Database(db).exec('create table codes (id integer)').close();
    await m.second();
    const broken = m.install({ FAKE_BROKEN: '1' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      new RegExp(
        `^install-pi\\.sh: release 0\\.1\\.0-\\d{8}T\\d{6}Z did not start; rolled back to ${a.replace(/\./g, '\\.')} \\(store restored from /var/lib/lockfw/backups/\\d{8}T\\d{6}Z\\): journalctl -u lockfw -b\\n$`,
      ),
    );
    expect(m.current()).toBe(a);
    expect(readFileSync(join(m.state, 'service'), 'utf8')).toBe(`active ${a}\n`);
    // The failed release had "migrated" the store; the old release got it back as it was.
    expect(m.tables(db)).toEqual(['codes']);
    const backups = readdirSync(join(m.root, 'var/lib/lockfw/backups'));
    expect(backups).toHaveLength(1);
    expect(m.tables(join(m.root, 'var/lib/lockfw/backups', backups[0]!, 'lock.db'))).toEqual(['codes']);

    // Two more good installs: the newest three releases are kept, the current one among them.
    await m.second();
    expect(m.install().code).toBe(0);
    await m.second();
    const last = m.install();
    expect(last.code).toBe(0);
    expect(m.releases()).toHaveLength(3);
    expect(m.releases()).not.toContain(a.slice('releases/'.length));
    expect(`releases/${m.releases()[2]}`).toBe(m.current());
    expect(existsSync(join(m.root, 'opt/tumbler/current/dist/firmware/main.js'))).toBe(true);
    expect(last.stdout).toContain(
      '/boot/firmware/config.txt already has dtparam=strict_gpiod dtparam=watchdog=on dtoverlay=i2c-rtc,ds3231',
    );
  }, 120_000);

  it('refuses a bad --rtc-overlay and a --root that is not a directory, changing nothing', () => {
    const m = fakeMachine();
    machines.push(m);
    const overlay = spawnSync('bash', [SCRIPT, '--dry-run', '--rtc-overlay', 'ds3231;reboot'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(overlay.status).toBe(1);
    expect(overlay.stderr).toBe(
      "install-pi.sh: --rtc-overlay takes an overlay model like ds3231 (or none), got 'ds3231;reboot'\n",
    );
    const root = spawnSync('bash', [SCRIPT, '--dry-run', '--root', join(m.dir, 'nope')], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(root.status).toBe(1);
    expect(root.stderr).toBe(`install-pi.sh: root ${join(m.dir, 'nope')} is not a directory (--root DIR)\n`);
    expect(existsSync(join(m.root, 'opt'))).toBe(false);
  });
});
