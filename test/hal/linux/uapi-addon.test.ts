import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UapiBackend } from '../../../hal/linux/uapi-backend.ts';
import { addonCandidates, type GpioAddon, loadGpioAddon } from '../../../hal/linux/uapi-native.ts';
import { tempDir } from '../fake-kernel.ts';

/**
 * The native addon (hal/linux/native/gpio_uapi.c) on this machine's kernel: it must be
 * built (npm run build:native). No GPIO chip exists here, so what a real chip does is
 * the board lane's job (test/hal/board-lane/uapi-check.ts, under QEMU with gpio-sim);
 * here: loading, argument checks, the kernel's own errors with their codes, and the
 * libuv poll integration on a FIFO.
 */
function addon(): GpioAddon {
  const { addon: loaded, problem } = loadGpioAddon();
  if (!loaded) throw new Error(problem);
  return loaded;
}

function thrown(fn: () => unknown): { code?: string; errno?: number; message: string; name: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; errno?: number; message: string; name: string };
  }
  throw new Error('did not throw');
}

describe('GPIO uAPI addon', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  function fifo(): { path: string; readFd: number; write(text: string): void } {
    const dir = tempDir('uapi');
    cleanups.push(() => dir.remove());
    const path = join(dir.path, 'fifo');
    execFileSync('mkfifo', [path]);
    const readFd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    cleanups.push(() => closeSync(readFd));
    return { path, readFd, write: (text) => writeSync(readFd, text) };
  }

  it('is found beside the source, or where TUMBLER_GPIO_ADDON points', () => {
    expect(addonCandidates({ TUMBLER_GPIO_ADDON: '/opt/prebuilt.node' }, 'arm64')[0]).toBe(
      '/opt/prebuilt.node',
    );
    expect(addonCandidates({}, 'arm64')).toContainEqual(
      expect.stringMatching(/hal\/linux\/native\/prebuilds\/linux-arm64\/tumbler_gpio\.node$/),
    );
    expect(Object.keys(addon()).sort()).toEqual(
      [
        'chipInfo',
        'closeFd',
        'getValues',
        'grab',
        'monotonicNs',
        'readEvents',
        'requestLines',
        'setValues',
        'unwatch',
        'watch',
      ].sort(),
    );
  });

  it("passes the kernel's errors on with their code: no such chip, not a GPIO chip", () => {
    const missing = thrown(() => addon().chipInfo('/nonexistent/gpiochip0'));
    expect(missing).toMatchObject({
      code: 'ENOENT',
      message: '/nonexistent/gpiochip0: No such file or directory',
    });
    const notChip = thrown(() =>
      addon().requestLines('/dev/null', 'lockfw', [3], { output: true, values: 0 }),
    );
    expect(notChip).toMatchObject({
      code: 'ENOTTY',
      errno: 25,
      message: 'GPIO_V2_GET_LINE_IOCTL: Inappropriate ioctl for device',
    });
    // Every edge setting is accepted and reaches the ioctl (which /dev/null refuses).
    for (const edges of ['none', 'both', 'rising', 'falling'] as const) {
      expect(
        thrown(() => addon().requestLines('/dev/null', 'lockfw', [7, 8], { output: false, edges })),
      ).toMatchObject({
        code: 'ENOTTY',
      });
    }
    const fd = openSync('/dev/null', 'r');
    cleanups.push(() => closeSync(fd));
    expect(thrown(() => addon().setValues(fd, 1, 1))).toMatchObject({ code: 'ENOTTY' });
    expect(thrown(() => addon().getValues(fd, 1))).toMatchObject({ code: 'ENOTTY' });
    expect(thrown(() => addon().grab(fd, true))).toMatchObject({
      code: 'ENOTTY',
      message: 'EVIOCGRAB: Inappropriate ioctl for device',
    });
  });

  it('refuses bad arguments with a TypeError before any system call', () => {
    const a = addon();
    const bad = [
      () => a.requestLines('/dev/null', 'lockfw', [], { output: true }),
      () => a.requestLines('/dev/null', 'x'.repeat(40), [1], { output: true }),
      () => a.requestLines('/dev/null', 'lockfw', [-1], { output: true }),
      () => a.requestLines('/dev/null', 'lockfw', [1], { output: false, bias: 7 }),
      () => a.requestLines('/dev/null', 'lockfw', [1], { output: true, edges: 'both' }),
      () =>
        a.requestLines('/dev/null', 'lockfw', [1], {
          output: false,
          edges: 'sideways' as unknown as 'both',
        }),
      () => a.setValues('3' as unknown as number, 1, 1),
      () => a.watch(0, 'not a function' as unknown as () => void),
      () => a.unwatch({}),
    ];
    for (const call of bad) expect(thrown(call).name).toBe('TypeError');
  });

  it('reads no events from an fd with nothing queued, and reports a closed fd', () => {
    const pipe = fifo();
    expect(addon().readEvents(pipe.readFd)).toEqual([]);
    expect(thrown(() => addon().readEvents(1_000_000))).toMatchObject({ code: 'EBADF' });
  });

  it('wakes JavaScript through libuv when the fd becomes readable, until unwatch', async () => {
    const pipe = fifo();
    const woken: Array<string | null> = [];
    let wake: () => void = () => {};
    const handle = addon().watch(pipe.readFd, (error) => {
      woken.push(error);
      // Drain, as the backend's readEvents does, so the poll settles.
      const buffer = Buffer.alloc(64);
      try {
        readSync(pipe.readFd, buffer);
      } catch {}
      wake();
    });
    const fired = new Promise<void>((resolve) => {
      wake = resolve;
    });
    pipe.write('x');
    await fired;
    expect(woken).toEqual([null]);
    addon().unwatch(handle);
    addon().unwatch(handle); // idempotent
    pipe.write('y');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(woken).toEqual([null]);
  });

  it('keeps CLOCK_MONOTONIC, the clock of edge timestamps', () => {
    const first = addon().monotonicNs();
    const second = addon().monotonicNs();
    expect(typeof first).toBe('bigint');
    expect(second >= first).toBe(true);
  });

  it('lists no chip on a machine without GPIO, and names a node that is not a chip', async () => {
    const dir = tempDir('uapi-dev');
    cleanups.push(() => dir.remove());
    const backend = new UapiBackend(addon(), { devRoot: dir.path });
    expect(await backend.listChips()).toEqual([]);
    writeFileSync(join(dir.path, 'gpiochip0'), '');
    await expect(backend.listChips()).rejects.toMatchObject({ code: 'ENOTTY' });
    await expect(backend.requestOutput({ chip: 'gpiochip0', line: 4, initial: 0 })).rejects.toThrow(
      'gpiochip0 line 4: output request failed: GPIO_V2_GET_LINE_IOCTL: Inappropriate ioctl for device',
    );
    await expect(backend.requestInput({ chip: 'gpiochip0', line: 5, bias: 'disable' })).rejects.toThrow(
      'gpiochip0 line 5: input request failed',
    );
    await expect(backend.requestOutput({ chip: 'pinctrl-bcm2711', line: 4, initial: 0 })).rejects.toThrow(
      TypeError,
    );
  });
});
