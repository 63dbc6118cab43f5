import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HalLog } from '../../../hal/linux/log.ts';
import { hwclockSetter, SysfsRtc } from '../../../hal/linux/sysfs-rtc.ts';
import { fakeSysfsRtc, tempDir } from '../fake-kernel.ts';

const FLOOR = Date.UTC(2024, 0, 1);

describe('SysfsRtc', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  function rig(seconds: number) {
    const dir = tempDir('rtc');
    dirs.push(dir);
    const file = fakeSysfsRtc(dir.path, 'rtc1', seconds);
    const calls: string[] = [];
    const logs: string[] = [];
    const log: HalLog = (level, module, msg, fields) =>
      logs.push(`${level} ${module} ${msg} ${JSON.stringify(fields)}`);
    const rtc = new SysfsRtc({
      device: 'rtc1',
      validAfterMs: FLOOR,
      sysfsRoot: join(dir.path, 'sys'),
      devRoot: join(dir.path, 'dev'),
      setRtc: async (epochSeconds, devicePath) => {
        calls.push(`${epochSeconds} ${devicePath}`);
        writeFileSync(file, `${epochSeconds}\n`);
      },
      log,
    });
    return { dir, file, rtc, calls, logs };
  }

  it('reads since_epoch as whole seconds', async () => {
    const { rtc } = rig(1_767_225_600);
    expect(await rtc.read()).toEqual({ epochMs: 1_767_225_600_000, valid: true });
  });

  it('calls a reading before validAfter invalid: the reset date of a flat battery', async () => {
    expect(await rig(946_684_800).rtc.read()).toEqual({ epochMs: 946_684_800_000, valid: false });
    expect((await rig(0).rtc.read()).valid).toBe(false);
    expect((await rig(FLOOR / 1000).rtc.read()).valid).toBe(true);
  });

  it('calls the kernel EINVAL (oscillator-stop flag set) invalid, quietly', async () => {
    const logs: string[] = [];
    const rtc = new SysfsRtc({
      device: 'rtc0',
      validAfterMs: FLOOR,
      readText: async () => {
        throw Object.assign(new Error('Invalid argument'), { code: 'EINVAL' });
      },
      log: (level, _module, msg) => logs.push(`${level} ${msg}`),
    });
    expect(await rtc.read()).toEqual({ epochMs: 0, valid: false });
    expect(logs).toEqual([]);
  });

  it('calls other read failures invalid and logs them', async () => {
    const { dir, rtc, logs } = rig(1_767_225_600);
    dir.remove();
    expect(await rtc.read()).toEqual({ epochMs: 0, valid: false });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^warn rtc rtc read failed .*"code":"ENOENT"/);
  });

  it('calls a reading that is not a number invalid', async () => {
    const { file, rtc } = rig(1);
    writeFileSync(file, 'garbage\n');
    expect((await rtc.read()).valid).toBe(false);
  });

  it('sets whole seconds through the /dev node', async () => {
    const { dir, rtc, calls } = rig(946_684_800);
    await rtc.set(1_767_225_600_499);
    await rtc.set(1_767_225_600_500);
    expect(calls).toEqual([`1767225600 ${dir.path}/dev/rtc1`, `1767225601 ${dir.path}/dev/rtc1`]);
    expect(await rtc.read()).toEqual({ epochMs: 1_767_225_601_000, valid: true });
  });

  it('checks its arguments', async () => {
    const { rtc } = rig(1);
    await expect(rtc.set(-1)).rejects.toThrow(/epochMs must be/);
    await expect(rtc.set('1' as unknown as number)).rejects.toThrow(RangeError);
    expect(() => new SysfsRtc({ device: '/dev/rtc0', validAfterMs: 0 })).toThrow(TypeError);
    expect(() => new SysfsRtc({ device: 'rtc0', validAfterMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('hwclockSetter', () => {
  it('runs hwclock --set with a UTC date, no adjtime file, and the given device', async () => {
    const dir = tempDir('hwclock');
    try {
      const log = join(dir.path, 'calls');
      const script = join(dir.path, 'hwclock');
      writeFileSync(script, `#!/bin/sh\necho "TZ=$TZ $*" >> "${log}"\n`);
      chmodSync(script, 0o755);
      await hwclockSetter(script)(1_767_225_600, '/dev/rtc0');
      expect(readFileSync(log, 'utf8')).toBe(
        'TZ=UTC --set --noadjfile --utc --date=2026-01-01 00:00:00 --rtc=/dev/rtc0\n',
      );
    } finally {
      dir.remove();
    }
  });

  it('rejects with what hwclock said', async () => {
    const dir = tempDir('hwclock');
    try {
      const script = join(dir.path, 'hwclock');
      writeFileSync(
        script,
        '#!/bin/sh\necho "hwclock: ioctl(RTC_SET_TIME) to /dev/rtc0 failed: Permission denied" >&2\nexit 1\n',
      );
      chmodSync(script, 0o755);
      await expect(hwclockSetter(script)(1, '/dev/rtc0')).rejects.toThrow(/RTC_SET_TIME.*Permission denied/);
    } finally {
      dir.remove();
    }
  });
});
