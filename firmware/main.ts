import { type CommandEntry, dispatchCommand, packageVersion, runCli } from './cli.ts';
import { AUDIT_HELP, auditCommand } from './commands/audit.ts';
import { CODES_HELP, codesCommand } from './commands/codes.ts';
import { OUTPUTS_OFF_HELP, outputsOffCommand } from './commands/outputs.ts';
import { RUN_HELP, runCommand } from './commands/run.ts';

const HELP = `lockfw: Tumbler keypad-lock firmware

Usage: lockfw <command> [options]

Commands:
  run      run the lock (headless): lockfw run --hal sim --data DIR
  codes    add, list, remove, enable, disable codes; the backup pool
  audit    verify the audit hash chain; list recent rows
  outputs-off  drive every output of a board to its off level (lockfw outputs-off --board FILE)
  help     lockfw help <command> shows a command's options

Options: --help, --version. Docs: README.md and docs/.`;

const COMMANDS: Record<string, CommandEntry> = {
  run: { run: runCommand, help: RUN_HELP },
  codes: { run: codesCommand, help: CODES_HELP },
  audit: { run: auditCommand, help: AUDIT_HELP },
  'outputs-off': { run: outputsOffCommand, help: OUTPUTS_OFF_HELP },
};

await runCli('lockfw', () =>
  dispatchCommand('lockfw', HELP, packageVersion(), COMMANDS, process.argv.slice(2)),
);
