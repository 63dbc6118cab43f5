import { type CommandEntry, dispatchCommand, packageVersion, runCli } from '../firmware/cli.ts';
import { API_KEY_HELP, apiKeyCommand } from './lockctl/api-key.ts';
import { CODES_HELP, codesCommand } from './lockctl/codes.ts';
import { COMMAND_HELP, lockCommand } from './lockctl/command.ts';
import { DEVICE_HELP, deviceCommand } from './lockctl/device.ts';
import { EVENTS_HELP, eventsCommand } from './lockctl/events.ts';
import { OFFLINE_CODE_HELP, offlineCodeCommand } from './lockctl/offline-code.ts';
import { PROVISION_HELP, provisionCommand } from './lockctl/provision.ts';
import { SERVE_HELP, serveCommand } from './lockctl/serve.ts';
import { TECH_TOKEN_HELP, techTokenCommand } from './lockctl/tech-token.ts';

const HELP = `lockctl: the gateway and code issuer for Tumbler locks

Usage: lockctl <command> [options]

Commands:
  provision       make a lock's provisioning file (its device secret) and register it
  device          register (add) or list locks in the gateway database
  offline-code    issue an offline code for a lock from its provisioning file
  tech-token      mint a technician token for the lock's serial console login
  codes           push the gateway's codes to a lock (desired/codes); show their status
  events          print stored events; --follow runs the gateway service
  serve           the gateway service and the Seam HTTP API in one process
  api-key         create, list or revoke keys for the Seam HTTP API
  unlock, lock    signed commands; also: status, mode set MODE, time sync,
                  revoke-offline, backup assign
  help            lockctl help <command> shows a command's options

Options: --help, --version. Docs: docs/protocol.md, docs/offline-codes.md, docs/seam-api.md.`;

const lock: CommandEntry = { run: lockCommand, help: COMMAND_HELP };
const COMMANDS: Record<string, CommandEntry> = {
  provision: { run: provisionCommand, help: PROVISION_HELP },
  device: { run: deviceCommand, help: DEVICE_HELP },
  'offline-code': { run: offlineCodeCommand, help: OFFLINE_CODE_HELP },
  'tech-token': { run: techTokenCommand, help: TECH_TOKEN_HELP },
  codes: { run: codesCommand, help: CODES_HELP },
  events: { run: eventsCommand, help: EVENTS_HELP },
  serve: { run: serveCommand, help: SERVE_HELP },
  'api-key': { run: apiKeyCommand, help: API_KEY_HELP },
  unlock: { ...lock, run: (argv) => lockCommand(['unlock', ...argv]) },
  lock: { ...lock, run: (argv) => lockCommand(['lock', ...argv]) },
  status: { ...lock, run: (argv) => lockCommand(['status', ...argv]) },
  mode: { ...lock, run: (argv) => lockCommand(['mode', ...argv]) },
  time: { ...lock, run: (argv) => lockCommand(['time', ...argv]) },
  'revoke-offline': { ...lock, run: (argv) => lockCommand(['revoke-offline', ...argv]) },
  backup: { ...lock, run: (argv) => lockCommand(['backup', ...argv]) },
};

await runCli('lockctl', () =>
  dispatchCommand('lockctl', HELP, packageVersion(), COMMANDS, process.argv.slice(2)),
);
