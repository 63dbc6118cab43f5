import { readFileSync } from 'node:fs';
import { runCli, UsageError } from '../firmware/cli.ts';
import { OFFLINE_CODE_HELP, offlineCodeCommand } from './lockctl/offline-code.ts';
import { PROVISION_HELP, provisionCommand } from './lockctl/provision.ts';

/** From package.json: one level up in a checkout, two from dist/scripts/. */
function version(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {}
  }
  return 'unknown';
}

const HELP = `lockctl: gateway-side tools for Tumbler locks

Usage: lockctl <command> [options]

Commands:
  provision     make a lock's provisioning file (its device secret)
  offline-code  issue an offline code for a lock from its provisioning file
  help          lockctl help <command> shows a command's options

Options: --help, --version. Docs: docs/offline-codes.md.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  provision: { run: provisionCommand, help: PROVISION_HELP },
  'offline-code': { run: offlineCodeCommand, help: OFFLINE_CODE_HELP },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${HELP}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`lockctl ${version()}\n`);
    return 0;
  }
  if (name === 'help') {
    const topic = rest[0] ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(`${topic ? topic.help : HELP}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    throw new UsageError(
      `lockctl: unknown command ${JSON.stringify(name)}; expected ${Object.keys(COMMANDS).join(', ')} (see lockctl --help)`,
    );
  }
  return command.run(rest);
}

await runCli('lockctl', () => main(process.argv.slice(2)));
