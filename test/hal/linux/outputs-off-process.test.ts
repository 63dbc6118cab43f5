import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLockfw } from '../../helpers/lockfw-process.ts';
import { onCleanup, tempDir } from '../../helpers/tmp.ts';
import { FakeInputNode, fakeSysfsRtc, shellGpiodTools } from '../fake-kernel.ts';

/** The relay-HAT example pointed at stand-in tools, with a keypad and RTC that are not there. */
function board(dir: string, toolsDir: string, chip = 'pinctrl-bcm2711'): string {
  const file = join(dir, 'board.json');
  writeFileSync(
    file,
    JSON.stringify({
      gpio: { chip, backend: 'gpiod-tools', toolsDir, settleMs: 20 },
      relay: { mode: 'strike', strikeLine: 26, failMode: 'fail-secure', activeLow: true },
      keypad: { device: join(dir, 'no-keypad') },
      rtc: { device: 'rtc-ds1307' },
      door: { line: 17, bias: 'pull-up' },
      indicator: { led: { red: 22, green: 23 }, buzzer: { line: 24 } },
    }),
  );
  return file;
}

const logOf = (path: string) => readFileSync(path, 'utf8').trim().split('\n');

describe('outputs off on every exit path (real lockfw processes, stand-in gpiod tools)', () => {
  it('lockfw outputs-off drives each output to its off level and lets go, one line each', async () => {
    const dir = tempDir('tumbler-outputs-off-');
    const tools = shellGpiodTools(dir);
    const result = await runLockfw(['outputs-off', '--board', board(dir, tools.dir)]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean)).toEqual([
      'board.relay.strikeLine: gpiochip0 line 26 off',
      'board.indicator.led.red: gpiochip0 line 22 off',
      'board.indicator.led.green: gpiochip0 line 23 off',
      'board.indicator.buzzer.line: gpiochip0 line 24 off',
    ]);
    expect(logOf(tools.log)).toEqual([
      'gpioset --mode=signal gpiochip0 26=1', // active-low: high is off
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 22=0',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 23=0',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 24=0',
      'gpioset TERM',
    ]);
  });

  it('lockfw outputs-off refuses a chip label that is not there, in one line, touching nothing', async () => {
    const dir = tempDir('tumbler-outputs-off-');
    const tools = shellGpiodTools(dir, [{ name: 'gpiochip0', label: 'gpio-brcmstb@107d508500', lines: 32 }]);
    const result = await runLockfw(['outputs-off', '--board', board(dir, tools.dir, 'pinctrl-rp1')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'lockfw: board.gpio.chip: a GPIO chip labelled "pinctrl-rp1" not found (gpiodetect lists gpiochip0 [gpio-brcmstb@107d508500])\n',
    );
    expect(() => readFileSync(tools.log)).toThrow(/ENOENT/);
  });

  it('lockfw run --hal linux drives the outputs off before a start that fails on its data dir', async () => {
    const dir = tempDir('tumbler-outputs-off-');
    const tools = shellGpiodTools(dir);
    // No store and no --init: run refuses, but only after the outputs are off.
    const result = await runLockfw([
      'run',
      '--hal',
      'linux',
      '--board',
      board(dir, tools.dir),
      '--data',
      join(dir, 'data'),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^lockfw: .*data/);
    expect(logOf(tools.log)).toEqual([
      'gpioset --mode=signal gpiochip0 26=1',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 22=0',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 23=0',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 24=0',
      'gpioset TERM',
    ]);
  });

  it('lockfw run --hal linux with the keypad unplugged holds every output off, then exits naming it', async () => {
    const dir = tempDir('tumbler-outputs-off-');
    const tools = shellGpiodTools(dir);
    const result = await runLockfw([
      'run',
      '--hal',
      'linux',
      '--init',
      '--board',
      board(dir, tools.dir),
      '--data',
      join(dir, 'data'),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('board.keypad.device');
    const log = logOf(tools.log);
    // outputs-off first, then the HAL holds each output off before looking for the keypad,
    // and lets go of them; never a level that is on.
    expect(log.slice(0, 8).filter((line) => line !== 'gpioset TERM')).toEqual([
      'gpioset --mode=signal gpiochip0 26=1',
      'gpioset --mode=signal gpiochip0 22=0',
      'gpioset --mode=signal gpiochip0 23=0',
      'gpioset --mode=signal gpiochip0 24=0',
    ]);
    expect(log.slice(8).filter((line) => line.startsWith('gpioset --'))).toEqual([
      'gpioset --mode=signal gpiochip0 26=1',
      'gpioset --mode=signal gpiochip0 22=0',
      'gpioset --mode=signal gpiochip0 23=0',
      'gpioset --mode=signal gpiochip0 24=0',
    ]);
    expect(log.filter((line) => line.startsWith('gpioset')).length).toBe(16); // each started one is TERMed
  }, 30_000);
});

describe('a crash during a grant (real processes, a kernel that keeps released lines at their level)', () => {
  it("kill -9 leaves the strike on; the unit's ExecStopPost (lockfw outputs-off) switches it off", async () => {
    const dir = tempDir('tumbler-crash-');
    const tools = shellGpiodTools(dir);
    const keypad = new FakeInputNode(join(dir, 'keypad'));
    onCleanup(() => keypad.dispose());
    fakeSysfsRtc(dir, 'rtc0', 1_767_225_600);
    const boardFile = join(dir, 'board.json');
    writeFileSync(
      boardFile,
      JSON.stringify({
        gpio: { chip: 'pinctrl-bcm2711', backend: 'gpiod-tools', toolsDir: tools.dir, settleMs: 20 },
        relay: { mode: 'strike', strikeLine: 26, failMode: 'fail-secure' },
        keypad: { device: keypad.path, grab: false },
        rtc: { device: 'rtc-ds1307' },
        door: { line: 17, bias: 'pull-up' },
        indicator: { buzzer: { line: 24 } },
      }),
    );
    // The lock process: the Linux HAL on this board, the strike driven open (a grant).
    const script = `
      const { createLinuxHal } = await import(${JSON.stringify(new URL('../../../hal/linux/index.ts', import.meta.url).pathname)});
      const { RealScheduler } = await import(${JSON.stringify(new URL('../../../hal/scheduler.ts', import.meta.url).pathname)});
      const hal = await createLinuxHal(${JSON.stringify(boardFile)}, new RealScheduler(), {
        sysfsRoot: ${JSON.stringify(join(dir, 'sys'))},
        devRoot: ${JSON.stringify(join(dir, 'dev'))},
        log: () => {},
      });
      hal.actuator.onPosition((position) => process.stdout.write(position + '\\n'));
      hal.actuator.drive('unlocked');
      setInterval(() => {}, 1000);
    `;
    // Its own process group, as a service has its own cgroup.
    const lock = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onCleanup(() => {
      try {
        process.kill(-lock.pid!, 'SIGKILL');
      } catch {}
    });
    await new Promise<void>((resolve, reject) => {
      lock.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('unlocked')) resolve();
      });
      lock.once('exit', (code) => reject(new Error(`the lock process exited early (${code})`)));
    });
    const level = (line: number) => readFileSync(join(tools.levels, `gpiochip0:${line}`), 'utf8').trim();
    expect(level(26)).toBe('1');

    lock.kill('SIGKILL'); // the crash
    await new Promise((resolve) => lock.once('exit', resolve));
    process.kill(-lock.pid!, 'SIGKILL'); // systemd kills what is left of the unit: the orphaned gpiosets
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(level(26)).toBe('1'); // released, and still on: the hazard

    const stopPost = await runLockfw(['outputs-off', '--board', boardFile]);
    expect(stopPost.status).toBe(0);
    expect(level(26)).toBe('0');
    expect(level(24)).toBe('0');
  }, 30_000);
});
