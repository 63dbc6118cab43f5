import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EV_KEY, EV_SYN, type InputEvent, type InputEventSize } from '../../hal/linux/input-event.ts';
import { KEY_CODES } from '../../hal/linux/keymap.ts';

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `tumbler-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Encodes `struct input_event` the way the kernel hands it to a process of this size. */
export function encodeInputEvent(event: InputEvent, size: InputEventSize, timeSec = 1_700_000_000): Buffer {
  const bytes = Buffer.alloc(size);
  if (size === 24) {
    bytes.writeBigInt64LE(BigInt(timeSec), 0);
    bytes.writeBigInt64LE(123_456n, 8);
  } else {
    bytes.writeInt32LE(timeSec, 0);
    bytes.writeInt32LE(123_456, 4);
  }
  bytes.writeUInt16LE(event.type, size - 8);
  bytes.writeUInt16LE(event.code, size - 6);
  bytes.writeInt32LE(event.value, size - 4);
  return bytes;
}

const CODE_FOR_KEY: Record<string, string> = {
  '0': 'KEY_KP0',
  '1': 'KEY_KP1',
  '2': 'KEY_KP2',
  '3': 'KEY_KP3',
  '4': 'KEY_KP4',
  '5': 'KEY_KP5',
  '6': 'KEY_KP6',
  '7': 'KEY_KP7',
  '8': 'KEY_KP8',
  '9': 'KEY_KP9',
  '*': 'KEY_KPASTERISK',
  '#': 'KEY_KPENTER',
};

/** What a USB keypad sends for one key: press, SYN, release, SYN. */
export function keyStroke(key: string, size: InputEventSize, codeName = CODE_FOR_KEY[key]): Buffer {
  const code = codeName ? KEY_CODES[codeName] : undefined;
  if (code === undefined) throw new RangeError(`no key code for ${JSON.stringify(key)}`);
  const syn = { type: EV_SYN, code: 0, value: 0 };
  return Buffer.concat([
    encodeInputEvent({ type: EV_KEY, code, value: 1 }, size),
    encodeInputEvent(syn, size),
    encodeInputEvent({ type: EV_KEY, code, value: 0 }, size),
    encodeInputEvent(syn, size),
  ]);
}

/**
 * A FIFO standing in for /dev/input/eventN. The test end is opened read-write, which
 * on Linux never blocks and keeps the pipe alive whether or not the driver has it open.
 */
export class FakeInputNode {
  private fd: number | undefined;

  constructor(readonly path: string) {
    execFileSync('mkfifo', [path]);
    this.fd = openSync(path, 'r+');
  }

  write(bytes: Buffer): void {
    if (this.fd === undefined) throw new Error('the fake input node is unplugged');
    writeSync(this.fd, bytes);
  }

  press(keys: string, size: InputEventSize): void {
    for (const key of keys) this.write(keyStroke(key, size));
  }

  /** USB unplug: udev removes the node; the reader sees end-of-file, then no path. */
  unplug(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }

  replug(): void {
    execFileSync('mkfifo', [this.path]);
    this.fd = openSync(this.path, 'r+');
  }

  dispose(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A sysfs tree with class/rtc/<device>/since_epoch and name (`rtc-ds1307 1-0068`, what
 * a DS3231 on I2C-1 shows; a Pi 5's own RTC shows `rpi-rtc soc:rpi_rtc`), and the /dev
 * node beside it.
 */
export function fakeSysfsRtc(
  root: string,
  device = 'rtc0',
  epochSeconds = 1_750_000_000,
  name = 'rtc-ds1307 1-0068',
): string {
  const dir = join(root, 'sys', 'class', 'rtc', device);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'since_epoch');
  writeFileSync(file, `${epochSeconds}\n`);
  writeFileSync(join(dir, 'name'), `${name}\n`);
  mkdirSync(join(root, 'dev'), { recursive: true });
  writeFileSync(join(root, 'dev', device), '');
  return file;
}

/** Empty files standing in for /dev/gpiochipN, enough for the presence checks. */
export function fakeGpioChips(root: string, ...chips: string[]): void {
  mkdirSync(join(root, 'dev'), { recursive: true });
  for (const chip of chips) writeFileSync(join(root, 'dev', chip), '');
}

/**
 * Shell stand-ins for the v1 gpiod tools, run as real child processes: each logs what
 * it was asked (and a holder, how it ended) to `log`; gpiodetect lists `chips`. Each
 * `gpioset` also writes the level it drives to `levels/<chip>:<line>`, and nothing
 * changes it when the holder ends: a Raspberry Pi kernel without strict_gpiod, which
 * keeps a released line at its last level.
 */
export function shellGpiodTools(
  dir: string,
  chips: Array<{ name: string; label: string; lines: number }> = [
    { name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
  ],
): { dir: string; log: string; levels: string } {
  const log = join(dir, 'log');
  const levels = join(dir, 'levels');
  mkdirSync(levels, { recursive: true });
  const drive = `chip=""; for arg in "$@"; do case "$arg" in gpiochip*) chip=$arg ;; [0-9]*=[01]) echo "\${arg#*=}" > "${levels}/$chip:\${arg%%=*}" ;; esac; done`;
  const holder = (name: string, firstOutput: string) => `#!/bin/bash
if [ "$1" = "--version" ]; then echo "${name} (libgpiod) v1.6.3"; exit 0; fi
echo "${name} $*" >> "${log}"
${name === 'gpioset' ? drive : ''}
${firstOutput}
trap 'kill $! 2>/dev/null; echo "${name} TERM" >> "${log}"; exit 0' TERM
while :; do sleep 5 & wait $!; done
`;
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o755 });
  };
  write('gpioset', holder('gpioset', ''));
  write('gpiomon', holder('gpiomon', 'echo "17 0"'));
  write('gpioget', '#!/bin/bash\necho 1\n');
  write(
    'gpiodetect',
    `#!/bin/bash\ncat <<'LIST'\n${chips.map((chip) => `${chip.name} [${chip.label}] (${chip.lines} lines)`).join('\n')}\nLIST\n`,
  );
  return { dir, log, levels };
}
