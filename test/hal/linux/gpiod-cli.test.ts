import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceMissingError, GpioError } from '../../../hal/linux/errors.ts';
import type { LineValue } from '../../../hal/linux/gpio-backend.ts';
import {
  gpiogetArgs,
  gpiomonArgs,
  gpiosetArgs,
  parseChipList,
  parseEdgeLine,
  parseGetOutput,
  parseGpiodVersion,
} from '../../../hal/linux/gpiod-args.ts';
import { createGpiodCliBackend, type GpiodCliBackend } from '../../../hal/linux/gpiod-cli.ts';
import type { ChildHandle, RunFn, SpawnFn } from '../../../hal/linux/held-process.ts';
import { flushAsync } from '../../../hal/scheduler.ts';
import { eventually } from '../contract.ts';
import { tempDir } from '../fake-kernel.ts';

describe('gpiod command lines', () => {
  it('reads the major version from --version', () => {
    expect(
      parseGpiodVersion('gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n'),
    ).toBe(1);
    expect(
      parseGpiodVersion('gpioset (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\n'),
    ).toBe(2);
    expect(parseGpiodVersion('gpioset (libgpiod) v2.2\n')).toBe(2);
    expect(parseGpiodVersion('something else')).toBeUndefined();
  });

  it('holds an output: v1 needs --mode=signal and a positional chip, v2 takes --chip', () => {
    const line = { chip: 'gpiochip0', line: 26 };
    expect(gpiosetArgs(1, line, 1, 'lockfw')).toEqual(['--mode=signal', 'gpiochip0', '26=1']);
    expect(gpiosetArgs(2, line, 0, 'lockfw')).toEqual([
      '--chip',
      'gpiochip0',
      '--consumer',
      'lockfw',
      '26=0',
    ]);
  });

  it('reads and watches an input with its bias', () => {
    const door = { chip: 'gpiochip0', line: 17, bias: 'pull-up' as const };
    expect(gpiogetArgs(1, door)).toEqual(['--bias=pull-up', 'gpiochip0', '17']);
    expect(gpiogetArgs(2, door)).toEqual(['--chip', 'gpiochip0', '--bias', 'pull-up', '17']);
    expect(gpiomonArgs(1, door, 'lockfw')).toEqual([
      '--line-buffered',
      '--format=%o %e',
      '--bias=pull-up',
      'gpiochip0',
      '17',
    ]);
    expect(gpiomonArgs(2, { ...door, bias: 'as-is' }, 'lockfw')).toEqual([
      '--chip',
      'gpiochip0',
      '--consumer',
      'lockfw',
      '--format',
      '%o %e',
      '17',
    ]);
  });

  it('spells "no bias" as each version wants it: v1 disable, v2 disabled', () => {
    const line = { chip: 'gpiochip0', line: 5, bias: 'disable' as const };
    expect(gpiogetArgs(1, line)).toEqual(['--bias=disable', 'gpiochip0', '5']);
    expect(gpiogetArgs(2, line)).toEqual(['--chip', 'gpiochip0', '--bias', 'disabled', '5']);
  });

  it('lists chips with their labels from gpiodetect (v1 and v2 print the same)', () => {
    expect(
      parseChipList(
        'gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\nnoise\n',
      ),
    ).toEqual([
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
      { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 },
    ]);
    expect(parseChipList('gpiochip10 [gpio-sim.0-node0] (32 lines)\n')).toEqual([
      { name: 'gpiochip10', label: 'gpio-sim.0-node0', lines: 32 },
    ]);
  });

  it('parses edges: v1 says 1 rising / 0 falling, v2 1 rising / 2 falling', () => {
    expect(parseEdgeLine(1, '17 1')).toEqual({ line: 17, value: 1 });
    expect(parseEdgeLine(1, '17 0')).toEqual({ line: 17, value: 0 });
    expect(parseEdgeLine(2, '17 2')).toEqual({ line: 17, value: 0 });
    expect(parseEdgeLine(2, '17 0')).toBeUndefined();
    expect(parseEdgeLine(1, 'event: RISING EDGE offset: 17')).toBeUndefined();
  });

  it('parses gpioget output of both versions', () => {
    expect(parseGetOutput('1\n')).toBe(1);
    expect(parseGetOutput('0\n')).toBe(0);
    expect(parseGetOutput('"17"=active\n')).toBe(1);
    expect(parseGetOutput('"17"=inactive\n')).toBe(0);
    expect(parseGetOutput('17=1')).toBe(1);
    expect(parseGetOutput('error')).toBeUndefined();
  });
});

class FakeChild extends EventEmitter implements ChildHandle {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  exited = false;

  constructor(
    readonly id: number,
    private readonly events: string[],
  ) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.events.push(`kill #${this.id} ${signal}`);
    this.exit(null, signal);
    return true;
  }

  /** The process dies by itself (EBUSY at start, or killed by someone else later). */
  exit(code: number | null, signal: NodeJS.Signals | null = null, stderr = ''): void {
    if (this.exited) return;
    this.exited = true;
    if (stderr) this.stderr.write(stderr);
    setImmediate(() => this.emit('exit', code, signal));
  }
}

function fakeTools(
  options: { version?: string; onSpawn?: (child: FakeChild, command: string) => void } = {},
) {
  const events: string[] = [];
  const children: FakeChild[] = [];
  const spawn: SpawnFn = (command, args) => {
    const child = new FakeChild(children.length + 1, events);
    children.push(child);
    events.push(`spawn #${child.id} ${command} ${args.join(' ')}`);
    options.onSpawn?.(child, command);
    return child;
  };
  const gets: LineValue[] = [];
  const run: RunFn = async (command, args) => {
    if (args[0] === '--version') return options.version ?? 'gpioset (libgpiod) v1.6.3\n';
    events.push(`run ${command} ${args.join(' ')}`);
    return options.version?.includes('v2')
      ? `"${args.at(-1)}"=${gets.shift() ? 'active' : 'inactive'}\n`
      : `${gets.shift() ?? 0}\n`;
  };
  return {
    events,
    children,
    spawn,
    run,
    gets,
    delay: () => new Promise<void>((resolve) => setTimeout(resolve, 2)),
  };
}

describe('GpiodCliBackend with fake tool processes', () => {
  it('finds the v1 tools and holds each output with its own gpioset, restarted for each change', async () => {
    const tools = fakeTools();
    const backend = (await createGpiodCliBackend({ ...tools, settleMs: 0 })) as GpiodCliBackend;
    expect(backend.major).toBe(1);
    const relay = await backend.requestOutput({ chip: 'gpiochip0', line: 26, initial: 0 });
    await relay.set(1);
    await relay.set(1);
    await relay.release();
    expect(tools.events).toEqual([
      'spawn #1 gpioset --mode=signal gpiochip0 26=0',
      'kill #1 SIGTERM',
      'spawn #2 gpioset --mode=signal gpiochip0 26=1',
      'kill #2 SIGTERM',
      'spawn #3 gpioset --mode=signal gpiochip0 26=1',
      'kill #3 SIGTERM',
    ]);
  });

  it('uses --chip and the consumer with the v2 tools, from toolsDir', async () => {
    const tools = fakeTools({ version: 'gpioset (libgpiod) v2.1.3\n' });
    const backend = await createGpiodCliBackend({ ...tools, toolsDir: '/usr/local/bin/', settleMs: 0 });
    await backend.requestOutput({ chip: 'gpiochip4', line: 5, initial: 1 });
    expect(tools.events).toEqual(['spawn #1 /usr/local/bin/gpioset --chip gpiochip4 --consumer lockfw 5=1']);
    await backend.close();
  });

  it('fails with what gpioset said when the line is busy', async () => {
    const tools = fakeTools({
      onSpawn: (child) =>
        child.exit(1, null, 'gpioset: error setting the GPIO line values: Device or resource busy\n'),
    });
    const backend = await createGpiodCliBackend({ ...tools, settleMs: 50 });
    const error = await backend
      .requestOutput({ chip: 'gpiochip0', line: 26, initial: 0 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpioError);
    expect((error as GpioError).message).toBe(
      'gpioset --mode=signal gpiochip0 26=0 failed: exit code 1: gpioset: error setting the GPIO line values: Device or resource busy',
    );
  });

  it('says which package to install when gpioset is missing', async () => {
    const run: RunFn = async () => {
      throw Object.assign(new GpioError('gpioset failed'), {
        cause: Object.assign(new Error('spawn'), { code: 'ENOENT' }),
      });
    };
    const error = await createGpiodCliBackend({ run }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceMissingError);
    expect((error as Error).message).toBe(
      "board.gpio.toolsDir: gpioset not found (install the Debian package 'gpiod')",
    );
  });

  it('holds the line again when its gpioset is killed from outside', async () => {
    const tools = fakeTools();
    const logs: string[] = [];
    const backend = await createGpiodCliBackend({
      ...tools,
      settleMs: 0,
      restartMs: 5,
      log: (level, _module, msg) => logs.push(`${level} ${msg}`),
    });
    const relay = await backend.requestOutput({ chip: 'gpiochip0', line: 26, initial: 0 });
    tools.children[0]!.exit(null, 'SIGKILL');
    await eventually(
      () =>
        expect(tools.events).toEqual([
          'spawn #1 gpioset --mode=signal gpiochip0 26=0',
          'spawn #2 gpioset --mode=signal gpiochip0 26=0',
        ]),
      () => new Promise((resolve) => setTimeout(resolve, 2)),
    );
    expect(logs).toEqual(['error line holder exited; holding the line again']);
    await relay.release();
  });

  it('reads an input, then follows its edges from gpiomon', async () => {
    const tools = fakeTools({ version: 'gpioset (libgpiod) v2.0.2\n' });
    tools.gets.push(1);
    const backend = await createGpiodCliBackend({ ...tools, settleMs: 0 });
    const door = await backend.requestInput({ chip: 'gpiochip0', line: 17, bias: 'pull-up' });
    expect(door.value()).toBe(1);
    const seen: LineValue[] = [];
    door.onChange((value) => seen.push(value));
    const monitor = tools.children[0]!;
    monitor.stdout.write('17 2\n17 1\n');
    monitor.stdout.write('17 2\n');
    await eventually(
      () => expect(seen).toEqual([0, 1, 0]),
      () => flushAsync(),
    );
    expect(door.value()).toBe(0);
    await door.release();
    expect(tools.events).toEqual([
      'run gpioget --chip gpiochip0 --bias pull-up 17',
      'spawn #1 gpiomon --chip gpiochip0 --consumer lockfw --format %o %e --bias pull-up 17',
      'kill #1 SIGTERM',
    ]);
  });

  it('checks request arguments', async () => {
    const backend = await createGpiodCliBackend({ ...fakeTools(), settleMs: 0 });
    await expect(backend.requestOutput({ chip: '/dev/gpiochip0', line: 1, initial: 0 })).rejects.toThrow(
      TypeError,
    );
    await expect(backend.requestOutput({ chip: 'gpiochip0', line: -1, initial: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(backend.requestOutput({ chip: 'gpiochip0', line: 1, initial: 2 as 0 })).rejects.toThrow(
      /request.initial must be 0 or 1/,
    );
  });
});

describe('GpiodCliBackend with real processes', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  /** Shell stand-ins for the v1 tools that log what they are asked and how they end. */
  function shellTools(): { dir: string; log: string } {
    const dir = tempDir('gpiod');
    dirs.push(dir);
    const log = join(dir.path, 'log');
    const holder = (name: string, firstOutput: string) => `#!/bin/bash
if [ "$1" = "--version" ]; then echo "${name} (libgpiod) v1.6.3"; exit 0; fi
echo "${name} $*" >> "${log}"
${firstOutput}
trap 'kill $! 2>/dev/null; echo "${name} TERM" >> "${log}"; exit 0' TERM
while :; do sleep 5 & wait $!; done
`;
    const write = (name: string, text: string) => {
      writeFileSync(join(dir.path, name), text);
      chmodSync(join(dir.path, name), 0o755);
    };
    write('gpioset', holder('gpioset', ''));
    write('gpiomon', holder('gpiomon', 'echo "17 0"'));
    write('gpioget', '#!/bin/bash\necho 1\n');
    return { dir: dir.path, log };
  }

  it('starts, restarts and stops one holder per change, and follows gpiomon', async () => {
    const { dir, log } = shellTools();
    const backend = await createGpiodCliBackend({ toolsDir: dir, settleMs: 20 });
    const relay = await backend.requestOutput({ chip: 'gpiochip0', line: 26, initial: 0 });
    await relay.set(1);
    const door = await backend.requestInput({ chip: 'gpiochip0', line: 17, bias: 'pull-up' });
    await eventually(
      () => expect(door.value()).toBe(0),
      () => new Promise((resolve) => setTimeout(resolve, 5)),
    );
    await backend.close();
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'gpioset --mode=signal gpiochip0 26=0',
      'gpioset TERM',
      'gpioset --mode=signal gpiochip0 26=1',
      'gpiomon --line-buffered --format=%o %e --bias=pull-up gpiochip0 17',
      expect.stringMatching(/^(gpioset|gpiomon) TERM$/),
      expect.stringMatching(/^(gpioset|gpiomon) TERM$/),
    ]);
  });

  const hasGpiod = (() => {
    try {
      execFileSync('gpioset', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasGpiod)('the installed gpiod tools are recognised and name the missing chip', async () => {
    const backend = await createGpiodCliBackend({ settleMs: 50 });
    expect([1, 2]).toContain((backend as GpiodCliBackend).major);
    // The real gpiodetect: every chip it lists parses (none on a machine without GPIO).
    const listed = execFileSync('gpiodetect', { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect((await backend.listChips()).length).toBe(listed.length);
    await expect(backend.requestOutput({ chip: 'gpiochip99', line: 3, initial: 0 })).rejects.toThrow(
      /gpiochip99/,
    );
  });
});
