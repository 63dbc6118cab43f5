import { packageVersion as firmwareVersion } from '../../cli.ts';
import { schemaVersion } from '../../store/db.ts';
import { ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import { type DiagContext, type DiagLinkStatus, deviceIdOf } from '../context.ts';
import { loginLockout } from '../login-lockout.ts';
import type { CommandSpec } from '../registry.ts';
import { formatDuration, isoUtc, localDateTime, shortLocalTime } from '../time-format.ts';

/** A broker address without any user:password in it. */
export function maskBroker(broker: string): string {
  return broker.replace(/\/\/[^@/]*@/, '//***@');
}

function versions(ctx: DiagContext) {
  return {
    firmware: firmwareVersion(),
    schema: schemaVersion(ctx.firmware.db),
    node: process.version,
    hal: ctx.hal.kind,
  };
}

const LOCK_HINTS: Record<string, string> = {
  jammed: ' (the bolt did not reach its end-stop: see events, selftest; relay lock after freeing it)',
  unlocking: ' (moving)',
  locking: ' (moving)',
};

const UNTRUSTED_HINTS: Record<string, string> = {
  rtc_lost_power: 'the RTC lost power (battery)',
  rtc_behind_floor: 'the RTC reads earlier than the last trusted time',
};

function linkLines(link: DiagLinkStatus | undefined): { mqtt: string; outbox: string } {
  if (!link) return { mqtt: 'not configured', outbox: '-' };
  const broker = maskBroker(link.broker);
  const mqtt = link.connected
    ? `connected to ${broker}`
    : `DISCONNECTED from ${broker}${link.lastError ? ` (last error: ${link.lastError})` : ''}`;
  return {
    mqtt,
    outbox: `${link.outboxDepth} event${link.outboxDepth === 1 ? '' : 's'} waiting for the gateway`,
  };
}

/** The storage line: whether writes commit, and the audit log's span. */
export function storageText(ctx: DiagContext): string {
  const { storage } = ctx.firmware.manager.status();
  const { head, checkpoint } = ctx.firmware.audit.chainState();
  if (storage.writable) return `writable; audit log rows ${checkpoint.seq + 1}-${head.seq}`;
  const since =
    storage.failingSinceMono === null
      ? ''
      : ` for ${formatDuration(ctx.scheduler.now() - storage.failingSinceMono)}`;
  return `${storage.full ? 'FULL' : 'FAILING'}: ${storage.failedWrites} write${storage.failedWrites === 1 ? '' : 's'} failed${since} (${storage.lastError}); every decision is refused until a write succeeds`;
}

export const status: CommandSpec = {
  name: 'status',
  usage: 'status',
  summary: 'lock, mode, door, clock, MQTT link, storage, lockout, uptime, versions',
  run({ args, ctx, session }) {
    expectArgs(args, 0, 0, 'status');
    const { manager, state } = ctx.firmware;
    const st = manager.status();
    const now = manager.wallNow();
    const link = ctx.link?.status();
    const { mqtt, outbox } = linkLines(link);
    const clock = st.clockTrusted
      ? `trusted, ${localDateTime(now, st.timezone)} (${st.timezone})`
      : `UNTRUSTED: ${UNTRUSTED_HINTS[st.clockUntrustedReason ?? ''] ?? st.clockUntrustedReason}; time-dependent codes are refused (see time)`;
    const { lockout } = st;
    const lockoutText = lockout.active
      ? `ACTIVE until ${shortLocalTime(lockout.until!, now, st.timezone, true)} (${formatDuration(lockout.until! - now)} left); every code is refused`
      : `none (${lockout.consecutiveFailures} wrong in a row, ${lockout.dailyFailures} today)`;
    const gate = loginLockout(state, ctx.scheduler).check(now, st.timezone);
    const technician = session.technician;
    const login = technician
      ? `technician until ${shortLocalTime(technician.expiresAt, now, st.timezone)}`
      : gate.open
        ? 'not logged in'
        : `locked out for ${formatDuration(gate.remainingMs)} (wrong tokens)`;
    const uptimeMs = ctx.scheduler.now() - (ctx.startedAt ?? 0);
    const v = versions(ctx);
    return ok(
      [
        `lock:      ${st.lock}${LOCK_HINTS[st.lock] ?? ''}`,
        `mode:      ${st.mode}`,
        `door:      ${st.door}`,
        `clock:     ${clock}`,
        `mqtt:      ${mqtt}`,
        `outbox:    ${outbox}`,
        `storage:   ${storageText(ctx)}`,
        `lockout:   ${lockoutText}`,
        `login:     ${login}`,
        `uptime:    ${formatDuration(uptimeMs)}`,
        `versions:  firmware ${v.firmware}, schema ${v.schema}, node ${v.node}, hal ${v.hal}`,
      ],
      {
        device_id: deviceIdOf(ctx),
        lock: st.lock,
        mode: st.mode,
        door: st.door,
        timezone: st.timezone,
        clock: { trusted: st.clockTrusted, untrusted_reason: st.clockUntrustedReason, now: isoUtc(now) },
        mqtt: link
          ? {
              configured: true,
              connected: link.connected,
              broker: maskBroker(link.broker),
              outbox_depth: link.outboxDepth,
              last_error: link.lastError ?? null,
            }
          : { configured: false },
        storage: {
          writable: st.storage.writable,
          full: st.storage.full,
          failed_writes: st.storage.failedWrites,
          last_error: st.storage.lastError,
          audit_head_seq: ctx.firmware.audit.chainState().head.seq,
          audit_checkpoint_seq: ctx.firmware.audit.chainState().checkpoint.seq,
        },
        lockout: {
          active: lockout.active,
          until: lockout.active ? isoUtc(lockout.until) : null,
          consecutive_failures: lockout.consecutiveFailures,
          daily_failures: lockout.dailyFailures,
        },
        login: {
          technician: technician !== undefined,
          locked_out: !gate.open,
          expires_at: technician ? isoUtc(technician.expiresAt) : null,
        },
        uptime_s: Math.floor(uptimeMs / 1000),
        versions: v,
      },
    );
  },
};

export const version: CommandSpec = {
  name: 'version',
  usage: 'version',
  summary: 'firmware, database schema, Node and board versions',
  run({ args, ctx }) {
    expectArgs(args, 0, 0, 'version');
    const v = versions(ctx);
    return ok(
      `tumbler firmware ${v.firmware}, schema ${v.schema}, node ${v.node}, hal ${v.hal}, device ${deviceIdOf(ctx)}`,
      { ...v, device_id: deviceIdOf(ctx) },
    );
  },
};

const SECRET_NAME = /pin|secret|key|token|password|passcode|credential/i;

/** The config with secret-named fields as *** and any user:password in a URL masked, keys sorted. */
function maskConfig(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) {
    if (SECRET_NAME.test(name)) out[name] = '***';
    else if (typeof field === 'string') out[name] = maskBroker(field);
    else if (field && typeof field === 'object' && !Array.isArray(field))
      out[name] = maskConfig(field as Record<string, unknown>);
    else out[name] = field;
  }
  return out;
}

/** Nested settings as dotted names: mqtt.url. */
function flatten(value: Record<string, unknown>, prefix = ''): Array<[string, string]> {
  return Object.entries(value).flatMap(
    ([name, field]): Array<[string, string]> =>
      field && typeof field === 'object' && !Array.isArray(field)
        ? flatten(field as Record<string, unknown>, `${prefix}${name}.`)
        : [[`${prefix}${name}`, typeof field === 'string' ? field : JSON.stringify(field)]],
  );
}

export const config: CommandSpec = {
  name: 'config',
  usage: 'config',
  summary: 'the lock settings in effect (secrets masked)',
  run({ args, ctx }) {
    expectArgs(args, 0, 0, 'config');
    const { firmware } = ctx;
    const settings = firmware.manager.getSettings();
    const values = maskConfig(firmware.config as unknown as Record<string, unknown>);
    const live = { mode: settings.mode, timezone: settings.timezone };
    const logLevel = ctx.logControl?.level ?? firmware.config.logLevel;
    return ok(
      [
        ...flatten(values).map(([name, value]) => `${name.padEnd(28)} ${value}`),
        `${'dataDir'.padEnd(28)} ${firmware.dataDir}`,
        `${'deviceKey'.padEnd(28)} *** (set; never shown)`,
        `${'mode (live)'.padEnd(28)} ${live.mode}`,
        `${'timezone (live)'.padEnd(28)} ${live.timezone}`,
        `${'logLevel (live)'.padEnd(28)} ${logLevel}`,
        `${'mqtt'.padEnd(28)} ${ctx.link ? maskBroker(ctx.link.status().broker) : 'not configured'}`,
      ],
      {
        config: values,
        data_dir: firmware.dataDir,
        device_key: '***',
        live: { ...live, log_level: logLevel },
        mqtt: ctx.link ? { broker: maskBroker(ctx.link.status().broker) } : null,
      },
    );
  },
};
