import { TumblerError } from '../../errors.ts';
import { isStorageError } from '../../store/storage-health.ts';
import { parseIsoInstant } from '../../validation.ts';
import { type CommandReply, executeCommand } from '../commands.ts';
import type { LinkContext } from '../context.ts';
import { INITIAL_SYNC } from '../desired.ts';
import { openSigned } from '../envelope.ts';
import { commandSchema } from '../messages.ts';

/** Commands may not be valid for longer than this ahead of the lock's clock. */
export const MAX_COMMAND_LIFETIME_MS = 15 * 60_000;

/**
 * cmd -> cmd/res. Every command gets one signed reply. Order of checks: signature,
 * shape, incarnation (this database's: a new one starts its counter again at 0),
 * counter (strictly increasing, persisted before anything runs, so a replay fails after
 * a reboot too), expiry (against the lock's clock when it is trusted).
 */
export async function onCommand(link: LinkContext, payload: Buffer): Promise<void> {
  const { firmware } = link;
  const reply = (body: Record<string, unknown>) => link.publishSigned(link.topics.cmdRes, 'cmd_res', body);
  const opened = openSigned(link.signingKey, 'cmd', link.deviceId, payload, commandSchema);
  if (!opened.ok) {
    link.reject('cmd', opened.error, opened.message);
    await reply({ id: opened.id ?? null, ok: false, error: opened.error, message: opened.message });
    return;
  }
  const command = opened.value;
  // These refusals come before the counter is spent, so anyone on the broker can repeat
  // them by replaying a captured command: audited coalesced, like forgeries.
  const refuse = async (error: string, message: string) => {
    link.reject('cmd', error, `${command.name} ${command.id}: ${message}`);
    await reply({ id: command.id, ok: false, error, message });
  };
  if (command.incarnation !== firmware.incarnation) {
    await refuse(
      'wrong_incarnation',
      `the command is for incarnation ${command.incarnation}, this lock is ${firmware.incarnation}`,
    );
    return;
  }
  const sync = firmware.state.get('sync', INITIAL_SYNC);
  if (command.counter <= sync.lastCounter) {
    await refuse(
      'replayed',
      `counter ${command.counter} is not above the last accepted (${sync.lastCounter})`,
    );
    return;
  }
  const reading = await firmware.manager.refreshClock();
  const expiresAt = parseIsoInstant(command.expires_at)!;
  if (reading.trusted && expiresAt < reading.epochMs) {
    await refuse('expired', `the command expired at ${command.expires_at}`);
    return;
  }
  if (reading.trusted && expiresAt - reading.epochMs > MAX_COMMAND_LIFETIME_MS) {
    await refuse(
      'expiry_too_far',
      `expires_at may be at most ${MAX_COMMAND_LIFETIME_MS / 60_000} minutes ahead`,
    );
    return;
  }
  let result: CommandReply;
  try {
    // Burn the counter before acting: a crash after this point cannot make the command replayable.
    firmware.db
      .transaction(() => {
        firmware.state.set('sync', {
          ...firmware.state.get('sync', INITIAL_SYNC),
          lastCounter: command.counter,
        });
        firmware.manager.record(
          'command',
          { id: command.id, name: command.name, by: 'gateway' },
          reading.epochMs,
        );
      })
      .immediate();
    result = await executeCommand(link, command.name, command.args);
  } catch (error) {
    // A write the storage refused (full disk): nothing that needed it happened. The
    // gateway still gets its one reply instead of a timeout.
    if (error instanceof TumblerError && error.code === 'storage_failed')
      result = { ok: false, error: error.code, message: error.message };
    else if (isStorageError(error))
      result = {
        ok: false,
        error: 'storage_failed',
        message: `command not run: the lock's storage refused the write (${(error as { code?: string }).code ?? 'error'})`,
      };
    else throw error;
  }
  await reply({ id: command.id, ...result });
}
