import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, parseIntFlag, runCli, UsageError } from '../firmware/cli.ts';
import { driveInRealTime } from '../hal/scheduler.ts';
import { loadSimRtc, saveSimRtc } from '../hal/sim/rtc-file.ts';
import { ControlClient } from './control-client.ts';
import { RUN_HELP, scenarioCommand } from './scenario/command.ts';
import { SimLock } from './sim-lock.ts';
import { localSource, socketSource } from './ui/sources.ts';
import { runTerminal } from './ui/terminal.ts';

const HELP = `keypad-sim: the Tumbler lock on a simulated board, in your terminal

Usage:
  keypad-sim [--data DIR] [--timezone ZONE] [--auto-relock SECONDS]
      interactive keypad with the firmware in this process (npm start).
      Data persists in DIR (default .tumbler/keypad-sim); on first start a demo
      code is added and shown.
  keypad-sim attach --socket PATH
      the same keypad, driving a separate \`lockfw run --hal sim\` through its
      control socket (docs/control-socket.md)
  keypad-sim run PATH... [--junit FILE] [--filter TEXT] [--verbose]
      run scenario files with virtual time (docs/scenarios.md)

Keys: 0-9 * # type on the keypad (Enter = #, Backspace = *); h/d jump an hour/a day;
j jams the motor; o opens the door; r drops the RTC battery; t sets the time as a
technician would; v changes mode; p cuts power; q quits.`;

export const DEMO_PIN = '1234';

async function interactive(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('keypad-sim', argv, {
    data: { type: 'string' },
    timezone: { type: 'string' },
    'auto-relock': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `keypad-sim: unknown command ${JSON.stringify(positionals[0])} (see keypad-sim --help)`,
    );
  const dataDir = values.data ?? join('.tumbler', 'keypad-sim');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const relock = parseIntFlag('keypad-sim', values['auto-relock'], '--auto-relock', 0, 3600);
  const lock = await SimLock.create({
    dataDir,
    ...loadSimRtc(dataDir),
    config: {
      ...(values.timezone ? { timezone: values.timezone } : {}),
      ...(relock !== undefined ? { autoRelockSeconds: relock } : {}),
    },
  });
  let banner = `Data: ${dataDir}`;
  if (lock.firmware.codes.count() === 0) {
    lock.firmware.admin.add({ name: 'demo', pin: DEMO_PIN }, 'keypad-sim', lock.firmware.manager.wallNow());
    banner = `First start: added the demo code \x1b[1m${DEMO_PIN}\x1b[0m (name "demo"). Type ${DEMO_PIN} then #.   Data: ${dataDir}`;
  } else if (lock.firmware.codes.findByPin(DEMO_PIN)) {
    banner = `Demo code: ${DEMO_PIN} then #.   Data: ${dataDir}`;
  }
  const stop = driveInRealTime(lock.scheduler);
  try {
    await runTerminal(localSource(lock), banner);
  } finally {
    stop();
    saveSimRtc(dataDir, lock.hal.rtc);
    await lock.close();
  }
  return 0;
}

async function attach(argv: string[]): Promise<number> {
  const { values } = parseFlags('keypad-sim attach', argv, {
    socket: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (!values.socket)
    throw new UsageError(
      'keypad-sim attach: --socket PATH is required (lockfw run --hal sim prints it; default DATA/sim.sock)',
    );
  const client = await ControlClient.connect(values.socket);
  await runTerminal(socketSource(client), `Attached to ${values.socket}`);
  client.close();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (first === 'run') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${RUN_HELP}\n`);
      return 0;
    }
    return scenarioCommand(rest);
  }
  if (first === 'attach') return attach(rest);
  return interactive(argv);
}

await runCli('keypad-sim', () => main(process.argv.slice(2)));
