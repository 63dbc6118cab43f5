import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { TumblerError } from './errors.ts';

/** A mistake in how a command was called: one line naming the flag, exit status 2. */
export class UsageError extends Error {
  readonly code = 'usage';
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing with messages that name the flag and point at --help. A flag not
 * declared `multiple` may be given once: `--pin 1111 --pin 2222` is refused, never read
 * as the last one.
 */
export function parseFlags<T extends FlagSpec>(
  command: string,
  argv: string[],
  options: T,
): {
  values: ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>>['values'];
  positionals: string[];
} {
  const parsed = parseStrict(command, argv, options);
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) {
      throw new UsageError(
        `${command}: --${token.name} given more than once; give it once (see ${command} --help)`,
      );
    }
    seen.add(token.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

function parseStrict<T extends FlagSpec>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true, tokens: true });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    throw new UsageError(`${command}: ${message} (see ${command} --help)`);
  }
}

export function requireFlag(command: string, value: string | undefined, flag: string, form: string): string {
  if (value === undefined || value === '')
    throw new UsageError(`${command}: ${flag} is required (${flag} ${form})`);
  return value;
}

export function parseIntFlag(
  command: string,
  value: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(
      `${command}: ${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/** Expected failures carry a `code` string (DESIGN.md): our error classes, Node's system errors. */
function hasCode(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

/**
 * A reader that goes away (`lockfw audit list | head -1`) closes the pipe: what is left
 * to print goes nowhere, quietly, and the command ends as it would have (a running lock
 * keeps running without its stdout). Any other output error still surfaces.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

/** Runs a CLI entry point: usage errors exit 2, expected failures exit 1, both as one line. */
export async function runCli(name: string, main: () => Promise<number | undefined>): Promise<void> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  try {
    const status = await main();
    if (status !== undefined) process.exitCode = status;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof TumblerError || hasCode(error)) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`${name}: internal error: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 70;
    }
  }
}

export interface CommandEntry {
  run: (argv: string[]) => Promise<number>;
  help: string;
}

/**
 * Dispatches `TOOL <command> ...`: --help, --version, `help <command>`, and a one-line
 * error naming an unknown command. Shared by lockfw, lockctl and lockdiag-style tools.
 */
export async function dispatchCommand(
  tool: string,
  help: string,
  version: string,
  commands: Record<string, CommandEntry>,
  argv: string[],
): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${help}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${tool} ${version}\n`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0] ? commands[rest[0]] : undefined;
    process.stdout.write(`${topic ? topic.help : help}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    throw new UsageError(
      `${tool}: unknown command ${JSON.stringify(name)}; expected ${Object.keys(commands).join(', ')} (see ${tool} --help)`,
    );
  }
  return command.run(rest);
}

/** The package version: one level up from the source, two from dist/. */
export function packageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {}
  }
  return 'unknown';
}
