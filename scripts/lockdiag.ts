import { readFileSync } from 'node:fs';
import { parseFlags, parseIntFlag, requireFlag, runCli, UsageError } from '../firmware/cli.ts';
import { BAUD_RATES, DEFAULT_BAUD } from '../firmware/diag/baud.ts';
import { DiagClient } from './lockdiag/client.ts';
import { isErrorAnswer } from './lockdiag/transcript.ts';

const HELP = `lockdiag: the technician's client for a Tumbler lock's serial console

Usage: lockdiag --port PATH [--baud N] [--json] [--login] [COMMAND ...]

With a COMMAND, runs it on the console, prints the answer and exits: 0 for an answer,
1 for an error answer (a line "error: ..." or, with --json, "ok":false), 3 when the
console does not answer. Without one, opens an interactive terminal (Ctrl-] quits).

  --port PATH      the serial device: /dev/ttyUSB0, /dev/ttyACM0, a pty...
  --baud N         ${BAUD_RATES.join('|')} (default ${DEFAULT_BAUD})
  --json           answers as JSON, one object a line (json on, interactively)
  --login          log in first with the token in LOCKDIAG_TOKEN or on standard input,
                   and log out after the command
  --timeout S      seconds to wait for an answer (default 15; keypad test: its own limit + 5)

Examples:
  lockdiag --port /dev/ttyUSB0 status
  lockdiag --port /dev/ttyUSB0 --json why 10
  LOCKDIAG_TOKEN=$(lockctl tech-token --provisioning lock-1.provisioning.json --valid 1h) \\
    lockdiag --port /dev/ttyUSB0 --login time set 2025-11-22T14:03:00+01:00

The command list is on the lock: lockdiag --port PATH help (docs/diagnostics.md).`;

const EXIT_ERROR_ANSWER = 1;
const EXIT_NO_CONSOLE = 3;

function readToken(): string {
  const fromEnv = process.env.LOCKDIAG_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY)
    throw new UsageError('lockdiag: --login and login read the token from LOCKDIAG_TOKEN or standard input');
  const token = readFileSync(0, 'utf8').split('\n')[0]!.trim();
  if (!token) throw new UsageError('lockdiag: no token on standard input');
  return token;
}

async function oneShot(
  client: DiagClient,
  words: string[],
  options: { json: boolean; login: boolean; timeoutMs: number },
): Promise<number> {
  // Name the mode with every line: the console's json mode may have been left on by someone else.
  const suffix = options.json ? ' --json' : ' --plain';
  if (options.login) {
    const answer = await client.run(`login ${readToken()}${suffix}`, options.timeoutMs);
    if (isErrorAnswer(answer)) {
      process.stdout.write(`${answer.join('\n')}\n`);
      return EXIT_ERROR_ANSWER;
    }
  }
  // `login` alone would make the console ask for the token on its own line: send it with the command.
  const line = words.length === 1 && words[0] === 'login' ? `login ${readToken()}` : words.join(' ');
  try {
    const answer = await client.run(`${line}${suffix}`, options.timeoutMs);
    if (answer.length > 0) process.stdout.write(`${answer.join('\n')}\n`);
    return isErrorAnswer(answer) ? EXIT_ERROR_ANSWER : 0;
  } finally {
    if (options.login) await client.run('logout', options.timeoutMs).catch(() => undefined);
  }
}

function interactive(client: DiagClient, json: boolean): Promise<number> {
  const port = client.serial;
  process.stderr.write(`lockdiag: connected to ${client.path}; Ctrl-] quits\n`);
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let finished = false;
    const finish = (status: number) => {
      if (finished) return;
      finished = true;
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      // Leave the console as plain as we found it for the next technician.
      if (json && port.isOpen) port.write('json off\r', () => port.drain(() => resolve(status)));
      else resolve(status);
    };
    port.on('data', (chunk: Buffer) => {
      if (!finished) process.stdout.write(chunk);
    });
    port.on('close', () => {
      if (finished) return;
      process.stderr.write(`\nlockdiag: ${client.path} closed\n`);
      finish(EXIT_NO_CONSOLE);
    });
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (chunk: Buffer) => {
      const quit = chunk.indexOf(0x1d);
      if (quit >= 0) {
        if (quit > 0) port.write(chunk.subarray(0, quit));
        finish(0);
        return;
      }
      port.write(chunk);
    });
    // Piped input: when it ends, give the console a moment to answer, then leave.
    stdin.on('end', () => setTimeout(() => finish(0), 500));
    port.write(json ? 'json on\r' : '\r');
  });
}

async function main(argv: string[]): Promise<number> {
  const command = 'lockdiag';
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${HELP}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const { values, positionals } = parseFlags(command, argv, {
    port: { type: 'string' },
    baud: { type: 'string' },
    json: { type: 'boolean' },
    login: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const path = requireFlag(command, values.port, '--port', 'PATH');
  const baud = parseIntFlag(command, values.baud, '--baud', 1, 4_000_000) ?? DEFAULT_BAUD;
  if (!(BAUD_RATES as readonly number[]).includes(baud)) {
    throw new UsageError(
      `${command}: --baud must be one of ${BAUD_RATES.join(', ')}, got ${JSON.stringify(values.baud)}`,
    );
  }
  const timeoutS = parseIntFlag(command, values.timeout, '--timeout', 1, 3600);
  if (values.login && positionals.length === 0)
    throw new UsageError(`${command}: --login needs a COMMAND to run`);
  const isKeypadTest = positionals[0] === 'keypad' && positionals[1] === 'test';
  const keypadLimitS = isKeypadTest && /^\d+$/.test(positionals[2] ?? '') ? Number(positionals[2]) : 30;
  const timeoutMs = (timeoutS ?? (isKeypadTest ? keypadLimitS + 5 : 15)) * 1000;

  let client: DiagClient;
  try {
    client = await DiagClient.open(path, baud);
  } catch (error) {
    process.stderr.write(`lockdiag: ${(error as Error).message.replace(/: Error: /, ': ')}\n`);
    return EXIT_NO_CONSOLE;
  }
  try {
    if (positionals.length === 0) return await interactive(client, values.json ?? false);
    await client.sync();
    return await oneShot(client, positionals, {
      json: values.json ?? false,
      login: values.login ?? false,
      timeoutMs,
    });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    process.stderr.write(`lockdiag: ${(error as Error).message}\n`);
    return EXIT_NO_CONSOLE;
  } finally {
    await client.close();
  }
}

await runCli('lockdiag', () => main(process.argv.slice(2)));
