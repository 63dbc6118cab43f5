// The uAPI backend's contract on a real kernel: run by in-vm.sh inside the board lane's
// VM, against a gpio-sim bank, with the native addon doing real ioctls. Prints
// "LANE ok ..." / "LANE FAIL ..." per check and exits 1 if any failed.
//
//   node --import tsx test/hal/board-lane/uapi-check.ts <gpio-sim device dir> <chip label>
//
// gpio-sim: an output's level reads back from sim_gpioN/value; writing pull-up /
// pull-down to an input's sim_gpioN/pull drives it (and makes an edge).
import { readFileSync, writeFileSync } from 'node:fs';
import { DebouncedInput } from '../../../hal/linux/debounced-input.ts';
import type { LineValue } from '../../../hal/linux/gpio-backend.ts';
import { GpioWiegand } from '../../../hal/linux/gpio-wiegand.ts';
import { MotorActuator } from '../../../hal/linux/motor-actuator.ts';
import { SwitchedOutput } from '../../../hal/linux/switched-output.ts';
import { UapiBackend } from '../../../hal/linux/uapi-backend.ts';
import { type GpioAddon, loadGpioAddon } from '../../../hal/linux/uapi-native.ts';
import { RealScheduler } from '../../../hal/scheduler.ts';
import { encodeWiegand } from '../../../hal/wiegand.ts';

const [simDir, label] = process.argv.slice(2);
if (!simDir || !label) throw new Error('usage: uapi-check.ts <gpio-sim device dir> <chip label>');
let failed = false;
const ok = (text: string) => console.log(`LANE ok uapi: ${text}`);
const fail = (text: string) => {
  console.log(`LANE FAIL uapi: ${text}`);
  failed = true;
};
const check = (name: string, expected: unknown, actual: unknown) => {
  const a = JSON.stringify(expected, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  const b = JSON.stringify(actual, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  if (a === b) ok(`${name} (${b})`);
  else fail(`${name}: expected ${a}, got ${b}`);
};
const simLevel = (line: number) => Number(readFileSync(`${simDir}/sim_gpio${line}/value`, 'utf8').trim());
const pull = (line: number, to: 'pull-up' | 'pull-down') =>
  writeFileSync(`${simDir}/sim_gpio${line}/pull`, to);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
async function until(what: string, condition: () => boolean, ms = 5000): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < ms; ) {
    if (condition()) return true;
    await sleep(5);
  }
  fail(`timed out waiting for ${what}`);
  return false;
}

const { addon: real, problem } = loadGpioAddon();
if (!real) {
  fail(`addon: ${problem}`);
  process.exit(1);
}

/** Every write, as the kernel took it: which fd, what level, CLOCK_MONOTONIC before the call and after it returned. */
interface Write {
  fd: number;
  bits: number;
  beforeNs: bigint;
  afterNs: bigint;
}
const writes: Write[] = [];
const lineOfFd = new Map<number, number>();
const addon: GpioAddon = {
  ...real,
  requestLines: (path, consumer, offsets, config) => {
    const fd = real.requestLines(path, consumer, offsets, config);
    lineOfFd.set(fd, offsets[0]!);
    return fd;
  },
  setValues: (fd, mask, bits) => {
    const beforeNs = real.monotonicNs();
    const afterNs = real.setValues(fd, mask, bits);
    writes.push({ fd, bits, beforeNs, afterNs });
    return afterNs;
  },
};

const gpio = new UapiBackend(addon, { consumer: 'lane' });
const chips = await gpio.listChips();
const chip = chips.find((candidate) => candidate.label === label);
if (!chip) {
  fail(`no chip labelled ${label} in ${JSON.stringify(chips)}`);
  process.exit(1);
}
ok(`listChips finds ${chip.name} [${chip.label}] (${chip.lines} lines) by ioctl`);
const at = (line: number) => ({ chip: chip.name, line });

// 1. Requested at its initial level, and set() resolves only once the line holds the level.
const high = await gpio.requestOutput({ ...at(10), initial: 1 });
const low = await gpio.requestOutput({ ...at(11), initial: 0 });
check('outputs hold their initial level from the request on', [1, 0], [simLevel(10), simLevel(11)]);
const seen: number[] = [];
for (const value of [0, 1, 0, 1, 0, 1, 0, 1] as LineValue[]) {
  await low.set(value);
  seen.push(simLevel(11)); // read right after the promise resolved: no wait, no settle time
}
check('each set() has driven the line by the time it resolves', [0, 1, 0, 1, 0, 1, 0, 1], seen);

// 2. Writes to several lines take effect in call order.
const before = writes.length;
high.set(0);
low.set(0);
high.set(1);
const order = writes.slice(before).map((write) => `${lineOfFd.get(write.fd)}=${write.bits}`);
check('writes reach the kernel in call order', ['10=0', '11=0', '10=1'], order);
const stamps = writes.slice(before);
check(
  'each write returned before the next began (monotonic)',
  true,
  stamps.every((write, i) => i === 0 || stamps[i - 1]!.afterNs <= write.beforeNs),
);
await high.release();
await low.release();

// 3. Bias: pull-up, pull-down and disabled are accepted by the kernel; the pull sets the level.
const up = await gpio.requestInput({ ...at(12), bias: 'pull-up' });
const down = await gpio.requestInput({ ...at(13), bias: 'pull-down' });
const none = await gpio.requestInput({ ...at(14), bias: 'disable' });
check('bias pull-up / pull-down read as 1 / 0', [1, 0], [up.value(), down.value()]);
ok('bias disabled (libgpiod v2 "disabled") is accepted by GPIO_V2_GET_LINE_IOCTL');
await Promise.all([up.release(), down.release(), none.release()]);

// 4. Edges carry the kernel's timestamp; an edge right after the request is not lost.
const input = await gpio.requestInput({ ...at(15), bias: 'as-is' });
const edges: Array<{ value: LineValue; ns: bigint | undefined }> = [];
input.onChange((value, ns) => edges.push({ value, ns }));
const t0 = real.monotonicNs();
pull(15, 'pull-up'); // synchronously after the request: gpiomon would miss this one
const t1 = real.monotonicNs();
await until('the first edge', () => edges.length >= 1);
pull(15, 'pull-down');
const t2 = real.monotonicNs();
await until('the second edge', () => edges.length >= 2);
check(
  'edges in order with their levels',
  [1, 0],
  edges.map((edge) => edge.value),
);
const [first, second] = edges;
check(
  'edge timestamps are CLOCK_MONOTONIC, inside the write that made them',
  true,
  first?.ns !== undefined &&
    second?.ns !== undefined &&
    t0 <= first.ns &&
    first.ns <= t1 &&
    t1 <= second.ns &&
    second.ns <= t2,
);
await input.release();

// 5. The motor on real lines: a reversal mid-travel switches the other direction off
// (write returned) and waits the dead time before energising; never both on.
const DEAD_TIME_MS = 50;
const scheduler = new RealScheduler();
const log = () => {};
const clock = { wait: (ms: number) => sleep(ms), now: () => scheduler.now() };
const output = async (line: number) =>
  new SwitchedOutput(await gpio.requestOutput({ ...at(line), initial: 0 }), false, log, 'relay', clock);
pull(5, 'pull-up'); // locked end-stop open (active-low)
pull(6, 'pull-up'); // unlocked end-stop open
const stop = async (line: number) =>
  new DebouncedInput(await gpio.requestInput({ ...at(line), bias: 'as-is' }), true, 5, scheduler);
const motor = new MotorActuator(
  {
    unlock: await output(20),
    lock: await output(21),
    lockedStop: await stop(5),
    unlockedStop: await stop(6),
  },
  DEAD_TIME_MS,
  scheduler,
);
const positions: string[] = [];
motor.onPosition((position) => positions.push(position));
const motorWrites = writes.length;
for (let reversal = 0; reversal < 6; reversal++) {
  motor.drive(reversal % 2 === 0 ? 'unlocked' : 'locked');
  const line = reversal % 2 === 0 ? 20 : 21;
  await until(`line ${line} on`, () => simLevel(line) === 1);
}
// The bolt reaches the unlocked end: power is cut on the edge, the position reported.
motor.drive('unlocked');
await until('line 20 on', () => simLevel(20) === 1);
pull(6, 'pull-down');
await until('the unlocked position', () => positions.includes('unlocked'));
check('end-stop reached: both directions off', [0, 0], [simLevel(20), simLevel(21)]);
await motor.close();

// On-intervals of each line from the writes that drove it: on from just before the
// on-write began, off once the off-write returned. They must never overlap, and
// between one line's off and the other's on lies at least the dead time.
const intervals: Record<number, Array<[bigint, bigint]>> = { 20: [], 21: [] };
const onSince = new Map<number, bigint>();
for (const write of writes.slice(motorWrites)) {
  const line = lineOfFd.get(write.fd)!;
  if (write.bits === 1 && !onSince.has(line)) onSince.set(line, write.beforeNs);
  if (write.bits === 0 && onSince.has(line)) {
    intervals[line]!.push([onSince.get(line)!, write.afterNs]);
    onSince.delete(line);
  }
}
const all = [
  ...intervals[20]!.map((i) => ({ line: 20, i })),
  ...intervals[21]!.map((i) => ({ line: 21, i })),
].sort((a, b) => (a.i[0] < b.i[0] ? -1 : 1));
check('every reversal energised each direction (7 on-intervals)', 7, all.length);
let minGapNs: bigint | undefined;
let overlap = false;
for (let i = 1; i < all.length; i++) {
  const gap = all[i]!.i[0] - all[i - 1]!.i[1];
  if (all[i]!.line !== all[i - 1]!.line) {
    if (gap < 0n) overlap = true;
    if (minGapNs === undefined || gap < minGapNs) minGapNs = gap;
  }
}
check('the two directions were never on together', false, overlap);
check(
  `dead time >= ${DEAD_TIME_MS} ms between one direction's confirmed off and the other's on`,
  true,
  minGapNs !== undefined && minGapNs >= BigInt(DEAD_TIME_MS) * 1_000_000n,
);
console.log(
  `LANE info uapi: shortest reversal gap ${minGapNs === undefined ? '?' : Number(minGapNs / 1000n) / 1000} ms`,
);

// 6. A Wiegand reader on D0/D1 (lines 7, 8) as one request: a 26-bit frame played as
// pull changes is read; one with a bit flipped is refused for its parity.
const wiegand = await GpioWiegand.open(
  gpio,
  { chip: chip.name, d0: 7, d1: 8, bias: 'pull-up', frameGapMs: 200 },
  scheduler,
);
check('D0 and D1 idle high with bias pull-up', [1, 1], [simLevel(7), simLevel(8)]);
const heard: string[] = [];
wiegand.onReading((reading) => heard.push(`${reading.bits}:${reading.digits}`));
wiegand.onRefused((refusal) => heard.push(`refused ${refusal.bits} ${refusal.reason}`));
// Bits 2 ms apart, as readers send them. (Back-to-back pulls are faster than gpio-sim
// delivers its simulated interrupt: two falling edges of one line then merge into one.)
const play = async (bits: readonly (0 | 1)[]) => {
  for (const bit of bits) {
    const line = bit === 0 ? 7 : 8;
    pull(line, 'pull-down');
    pull(line, 'pull-up');
    await sleep(2);
  }
};
await play(encodeWiegand(2580, 26));
await until('the first frame', () => heard.length >= 1);
const flipped = encodeWiegand(2580, 26);
flipped[5] = flipped[5] === 1 ? 0 : 1;
await play(flipped);
await until('the second frame', () => heard.length >= 2);
check(
  'a 26-bit frame read through the kernel, a flipped bit refused',
  ['26:2580', 'refused 26 parity'],
  heard,
);
await wiegand.close();

await gpio.close();
process.exit(failed ? 1 : 0);
