import { readFileSync } from 'node:fs';
import { runCli, UsageError } from './cli.ts';
import { AUDIT_HELP, auditCommand } from './commands/audit.ts';
import { CODES_HELP, codesCommand } from './commands/codes.ts';
import { RUN_HELP, runCommand } from './commands/run.ts';

const HELP = `lockfw: Tumbler keypad-lock firmware

Usage: lockfw <command> [options]

Commands:
  run      run the lock (headless): lockfw run --hal sim --data DIR
  codes    add, list, remove, enable, disable codes; the backup pool
  audit    verify the audit hash chain; list recent rows
  help     lockfw help <command> shows a command's options

Options: --help, --version. Docs: README.md and docs/.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  run: { run: runCommand, help: RUN_HELP },
  codes: { run: codesCommand, help: CODES_HELP },
  audit: { run: auditCommand, help: AUDIT_HELP },
};

/** From package.json: one level up in a checkout, two from dist/firmware/. */
export function version(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {}
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${HELP}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`lockfw ${version()}\n`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0] ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(`${topic ? topic.help : HELP}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command)
    throw new UsageError(
      `lockfw: unknown command ${JSON.stringify(name)}; expected ${Object.keys(COMMANDS).join(', ')} (see lockfw --help)`,
    );
  return command.run(rest);
}

await runCli('lockfw', () => main(process.argv.slice(2)));
