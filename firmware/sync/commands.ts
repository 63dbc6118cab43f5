import { offlineStore, revokeOfflineCode } from '../offline-path.ts';
import { describeZodError, parseIsoInstant } from '../validation.ts';
import type { LinkContext } from './context.ts';
import { INITIAL_SYNC } from './desired.ts';
import { type CommandName, commandArgs } from './messages.ts';

export type CommandReply =
  | { ok: true; result?: Record<string, unknown> }
  | { ok: false; error: string; message: string };

// Arguments were checked by isoInstantSchema.
const toMs = (iso: string) => parseIsoInstant(iso)!;

/** Runs one verified, fresh command: each is a thin call into the lock manager. */
export async function executeCommand(
  link: LinkContext,
  name: CommandName,
  rawArgs: unknown,
): Promise<CommandReply> {
  const parsed = commandArgs[name].safeParse(rawArgs);
  if (!parsed.success)
    return { ok: false, error: 'invalid_args', message: describeZodError(parsed.error, 'args') };
  const args = parsed.data as Record<string, unknown>;
  const { firmware } = link;
  const { manager } = firmware;
  const now = manager.wallNow();
  switch (name) {
    case 'unlock':
    case 'lock': {
      const verdict = await manager.actuate(name === 'unlock' ? 'unlocked' : 'locked', 'gateway');
      if (!verdict.allowed) return { ok: false, error: verdict.reason, message: verdict.message };
      return { ok: true, result: { lock: manager.status().lock } };
    }
    case 'set_mode':
      await manager.setMode(args.mode as Parameters<typeof manager.setMode>[0], 'gateway');
      link.publishState();
      return { ok: true, result: { mode: manager.status().mode } };
    case 'time_sync': {
      const result = await link.syncTime();
      if (!result.ok) return result;
      return { ok: true, result: { ...result } };
    }
    case 'revoke_offline': {
      const target =
        'fingerprint' in args ? { fingerprint: args.fingerprint as string } : { code: args.code as string };
      const revoked = revokeOfflineCode(firmware, target, {
        by: 'gateway',
        now,
        timezone: manager.getSettings().timezone,
        length: firmware.config.offlineCodeLength,
        ...(typeof args.expires_at === 'string' ? { expiresAt: toMs(args.expires_at) } : {}),
      });
      if (!revoked.ok) return revoked;
      return {
        ok: true,
        result: {
          fingerprint: revoked.fingerprint,
          key_version: revoked.keyVersion,
          already_revoked: revoked.alreadyRevoked,
        },
      };
    }
    case 'assign_backup_code': {
      const startsAt = toMs(args.starts_at as string);
      const endsAt = toMs(args.ends_at as string);
      if (endsAt <= startsAt)
        return { ok: false, error: 'invalid_window', message: 'ends_at must be later than starts_at' };
      const code = firmware.admin.assignBackup(
        args.id as number,
        args.name as string,
        startsAt,
        endsAt,
        'gateway',
        now,
      );
      if (!code)
        return { ok: false, error: 'not_found', message: `no unassigned backup code with id ${args.id}` };
      return { ok: true, result: { id: code.id, name: code.name } };
    }
    case 'list_codes':
      // What the lock holds, every source, never a PIN: a gateway compares it with what
      // it declared (codes changed or removed at the lock) and lists the local codes.
      return {
        ok: true,
        result: {
          applied_revision: firmware.state.get('sync', INITIAL_SYNC).appliedRevision,
          // What an issuer of offline codes for this lock needs (docs/offline-codes.md).
          offline: {
            key_version: offlineStore(firmware.db).keyVersion(),
            length: firmware.config.offlineCodeLength,
            timezone: manager.getSettings().timezone,
          },
          codes: firmware.codes.list().map((code) => ({
            id: code.id,
            ref: code.ref,
            source: code.source,
            name: code.name,
            kind: code.kind,
            role: code.role,
            enabled: code.enabled,
            assigned: code.assigned,
            starts_at: code.startsAt === null ? null : new Date(code.startsAt).toISOString(),
            ends_at: code.endsAt === null ? null : new Date(code.endsAt).toISOString(),
            // The rest of its rules, so a gateway adopting the code knows what it would drop.
            schedule: code.schedule,
            max_uses: code.maxUses,
            expire_after_first_use: code.expireAfterFirstUseMin,
            // With the id, names one code across the lock's life (ids are reused after a removal).
            created_at: new Date(code.createdAt).toISOString(),
          })),
        },
      };
    case 'remove_code': {
      // Local codes only: the gateway's own leave with the next desired/codes revision.
      const code = firmware.codes.get(args.id as number);
      if (code?.source !== 'local')
        return { ok: false, error: 'not_found', message: `no local code with id ${args.id}` };
      firmware.admin.remove(code.id, 'gateway', now);
      return { ok: true, result: { id: code.id } };
    }
    case 'sim_keypad': {
      // Test and demo locks only: a real keypad is never typed on over the network.
      const press = link.options.simKeypad;
      if (!press)
        return { ok: false, error: 'not_sim', message: 'keypad entry is simulated on a --hal sim lock only' };
      press(`${args.code as string}#`);
      return { ok: true, result: {} };
    }
    case 'get_status': {
      const status = manager.status();
      const sync = firmware.state.get('sync', INITIAL_SYNC);
      return {
        ok: true,
        result: {
          lock: status.lock,
          mode: status.mode,
          door: status.door,
          clock_trusted: status.clockTrusted,
          lockout: status.lockout.active,
          applied_revision: sync.appliedRevision,
          codes: firmware.codes.count(),
          backup_unassigned: firmware.codes.list().filter((c) => c.source === 'backup' && !c.assigned).length,
        },
      };
    }
  }
}
