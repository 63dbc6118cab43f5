import { MODES } from '../../firmware/access/types.ts';
import { parseFlags, UsageError } from '../../firmware/cli.ts';
import { TumblerError } from '../../firmware/errors.ts';
import type { CommandReply } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { takeCounter } from '../../gateway/store.ts';
import { GATEWAY_FLAGS, GATEWAY_FLAGS_HELP, print, timeoutMs, withGateway } from './common.ts';

/** A time sync slowed by a busy broker or gateway is worth another try, as a gateway would. */
export const TIME_SYNC_ATTEMPTS = 3;

/**
 * Sends a command; while the lock refuses a time sync as rtt_too_long (a round trip
 * slowed by a busy link), sends it again with a fresh counter, up to TIME_SYNC_ATTEMPTS
 * in all. Every other answer is final.
 */
export async function sendRetryingRoundTrip(
  send: () => Promise<CommandReply>,
  onRetry: (refusal: CommandReply, attempt: number) => void,
): Promise<CommandReply> {
  for (let attempt = 1; ; attempt++) {
    const reply = await send();
    if (reply.ok || reply.error !== 'rtt_too_long' || attempt >= TIME_SYNC_ATTEMPTS) return reply;
    onRetry(reply, attempt + 1);
  }
}

export const COMMAND_HELP = `Usage: lockctl <unlock|lock|status|mode set MODE|time sync|revoke-offline|backup assign> --device ID [options]

Sends one signed command (fresh counter, 5-minute expiry) and prints the lock's reply.

  lockctl unlock --device ID
  lockctl lock --device ID
  lockctl status --device ID
  lockctl mode set normal|vacation|privacy|passage --device ID
  lockctl time sync --device ID          the lock times a round trip and sets its clock
                                         (tried up to ${TIME_SYNC_ATTEMPTS} times while it answers rtt_too_long)
  lockctl revoke-offline --device ID (--fingerprint HEX | --code DIGITS)
  lockctl backup assign --device ID --id N --name NAME --starts-at ISO --ends-at ISO

Exit status: 0 ok, 1 the lock refused (the error code and message are printed), 2 bad usage.

${GATEWAY_FLAGS_HELP}`;

function commandFor(
  words: string[],
  values: Record<string, string | boolean | undefined>,
): { name: string; args: Record<string, unknown> } {
  const [a, b, c] = words;
  if (a === 'unlock' || a === 'lock') return { name: a, args: {} };
  if (a === 'status') return { name: 'get_status', args: {} };
  if (a === 'mode' && b === 'set') {
    if (!c || !(MODES as readonly string[]).includes(c))
      throw new UsageError(`lockctl mode set: MODE must be one of ${MODES.join(', ')}`);
    return { name: 'set_mode', args: { mode: c } };
  }
  if (a === 'time' && b === 'sync') return { name: 'time_sync', args: {} };
  if (a === 'revoke-offline') {
    if (values.fingerprint && values.code)
      throw new UsageError('lockctl revoke-offline: give --fingerprint or --code, not both');
    if (values.fingerprint) return { name: 'revoke_offline', args: { fingerprint: values.fingerprint } };
    if (values.code) return { name: 'revoke_offline', args: { code: values.code } };
    throw new UsageError('lockctl revoke-offline: --fingerprint HEX or --code DIGITS is required');
  }
  if (a === 'backup' && b === 'assign') {
    const id = Number(values.id);
    if (!Number.isInteger(id) || id < 1)
      throw new UsageError('lockctl backup assign: --id must be a backup code id (lockfw codes backup list)');
    for (const flag of ['name', 'starts-at', 'ends-at']) {
      if (!values[flag]) throw new UsageError(`lockctl backup assign: --${flag} is required`);
    }
    return {
      name: 'assign_backup_code',
      args: { id, name: values.name, starts_at: values['starts-at'], ends_at: values['ends-at'] },
    };
  }
  throw new UsageError(`lockctl: unknown command ${JSON.stringify(words.join(' '))} (see lockctl --help)`);
}

export async function lockCommand(argv: string[]): Promise<number> {
  const { values, positionals: words } = parseFlags(`lockctl ${argv[0] ?? ''}`, argv, {
    ...GATEWAY_FLAGS,
    fingerprint: { type: 'string' },
    code: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    'starts-at': { type: 'string' },
    'ends-at': { type: 'string' },
  });
  const arity = words[0] === 'mode' ? 3 : words[0] === 'time' || words[0] === 'backup' ? 2 : 1;
  const command = `lockctl ${words.slice(0, arity).join(' ')}`;
  if (values.help) {
    process.stdout.write(`${COMMAND_HELP}\n`);
    return 0;
  }
  if (words.length > arity)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(words[arity])}`);
  const { name, args } = commandFor(words, values);
  const wait = timeoutMs(command, values);
  return withGateway(command, values, async ({ db, client, channel, deviceId }) => {
    if (name === 'time_sync') await new GatewayService(client, db, {}, deviceId).start();
    const send = async () => {
      try {
        return await client.command(channel, await takeCounter(db, deviceId), name, args, wait);
      } catch (error) {
        throw new TumblerError('timeout', `${(error as Error).message}`);
      }
    };
    const reply = await sendRetryingRoundTrip(send, (refusal, attempt) =>
      process.stderr.write(
        `${command}: ${refusal.message}; trying again (${attempt}/${TIME_SYNC_ATTEMPTS})\n`,
      ),
    );
    if (reply.ok) {
      const result = reply.result
        ? Object.entries(reply.result)
            .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join('\n')
        : '';
      print(values.json, reply, `ok${result ? `\n${result}` : ''}`);
      return 0;
    }
    if (values.json) print(true, reply, '');
    else process.stderr.write(`${command}: refused: ${reply.error}: ${reply.message}\n`);
    return 1;
  });
}
