import { type Answer, DiagError, fail, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import { deviceIdOf } from '../context.ts';
import { LOGIN_ATTEMPTS, LoginLockout } from '../login-lockout.ts';
import type { CommandCall, CommandRegistry, CommandSpec } from '../registry.ts';
import { SESSION_IDLE_MS } from '../session.ts';
import { deriveTechKey, type TechTokenRefusal, verifyTechToken } from '../tech-token.ts';
import { formatDuration, isoUtc, localDateTime } from '../time-format.ts';

const SESSION_COMMANDS = new Set(['help', 'login', 'logout', 'json']);

function row(spec: CommandSpec): string {
  return `  ${spec.usage.padEnd(22)} ${spec.summary}`;
}

function overview(registry: CommandRegistry): Answer {
  const specs = registry.list();
  const readOnly = specs.filter((spec) => !spec.privileged && !SESSION_COMMANDS.has(spec.name));
  const technician = specs.filter((spec) => spec.privileged);
  const session = specs.filter((spec) => SESSION_COMMANDS.has(spec.name));
  return ok(
    [
      'Read-only commands (anyone with the cable):',
      ...readOnly.map(row),
      'Technician commands (login first, with a token from the gateway):',
      ...technician.map(row),
      'Session:',
      ...session.map(row),
      'Add --json (or --plain) to any command for one JSON object a line (or text). help CMD tells more.',
      'Keys: Tab completes, up/down recall, Ctrl-U clears the line, Ctrl-C stops a command.',
    ],
    {
      commands: specs.map((spec) => ({
        name: spec.name,
        usage: spec.usage,
        summary: spec.summary,
        privileged: spec.privileged ?? false,
      })),
    },
  );
}

export const help: CommandSpec = {
  name: 'help',
  aliases: ['?'],
  usage: 'help [CMD]',
  summary: 'this list, or more about one command',
  run({ args, registry }) {
    if (args.length === 0) return overview(registry);
    const found = registry.find(args);
    if (!found || found.args.length > 0) {
      throw new DiagError(
        'unknown_command',
        `no command "${args.join(' ').slice(0, 40)}"; type help for the list`,
      );
    }
    const { spec } = found;
    return ok(
      [
        `usage: ${spec.usage}${spec.privileged ? '   (technician: login first)' : ''}`,
        `  ${spec.summary}`,
        ...(spec.details ?? []).map((line) => `  ${line}`),
      ],
      {
        name: spec.name,
        usage: spec.usage,
        summary: spec.summary,
        details: spec.details ?? [],
        privileged: spec.privileged ?? false,
      },
    );
  },
};

const REFUSALS: Record<Exclude<TechTokenRefusal, 'expired'>, string> = {
  malformed: 'that is not a technician token (expected tt1.<device id>.<32 characters>)',
  wrong_device: 'that token is for another lock',
  bad_signature: 'that token does not verify for this lock',
};

async function login(call: CommandCall, text: string): Promise<Answer> {
  const { firmware } = call.ctx;
  const { manager, db } = firmware;
  const lockout = new LoginLockout(firmware.state);
  const reading = await manager.refreshClock();
  const now = reading.epochMs;
  const gate = lockout.check(now);
  if (!gate.open) {
    return fail(
      'login_locked_out',
      `login is locked out for ${formatDuration(gate.remainingMs)} more after ${LOGIN_ATTEMPTS} wrong tokens`,
      {
        retry_after_s: Math.ceil(gate.remainingMs / 1000),
      },
    );
  }
  // A dead RTC reads the past, where every old token looks fresh: judge against the
  // last trusted time instead, so only a token still valid then gets in.
  const reference = reading.trusted ? now : Math.max(now, firmware.clock.snapshot().floor);
  const check = verifyTechToken(deriveTechKey(firmware.secret), deviceIdOf(call.ctx), text, reference);
  if (check.ok) {
    const { token } = check;
    db.transaction(() => {
      lockout.reset();
      manager.record(
        'technician_login',
        { token_id: token.tokenId, expires_at: isoUtc(token.expiresAt) },
        now,
      );
    }).immediate();
    call.session.begin(token);
    const zone = manager.getSettings().timezone;
    return ok(
      [
        `logged in as technician until ${localDateTime(token.expiresAt, zone)} (${formatDuration(token.expiresAt - reference)} left).`,
        `The session ends after ${SESSION_IDLE_MS / 60_000} min idle; type logout when done.`,
      ],
      { technician: true, token_id: token.tokenId, expires_at: isoUtc(token.expiresAt) },
    );
  }
  if (check.reason === 'expired') {
    // A genuine token past its time is not a guess: it does not count toward the lockout.
    manager.record(
      'technician_login_refused',
      { reason: 'expired', token_id: check.token?.tokenId ?? null },
      now,
    );
    const zone = manager.getSettings().timezone;
    return fail(
      'token_expired',
      `that token expired at ${localDateTime(check.token!.expiresAt, zone)}; ask the gateway for a new one`,
    );
  }
  const reason = check.reason;
  const counted = db
    .transaction(() => {
      const result = lockout.recordFailure(now);
      manager.record('technician_login_refused', { reason, failures: result.failures }, now);
      if (result.lockedUntil !== null) {
        manager.record(
          'technician_lockout',
          { failures: result.failures, until: isoUtc(result.lockedUntil) },
          now,
        );
      }
      return result;
    })
    .immediate();
  const left = LOGIN_ATTEMPTS - counted.failures;
  const tail =
    counted.lockedUntil !== null
      ? `login is now locked out for ${formatDuration(counted.lockedUntil - now)}`
      : `${left} attempt${left === 1 ? '' : 's'} left before a lockout`;
  return fail(`token_${reason}`, `login refused: ${REFUSALS[reason]}; ${tail}`, {
    attempts_left: Math.max(0, left),
  });
}

export const loginCommand: CommandSpec = {
  name: 'login',
  usage: 'login [TOKEN]',
  summary: 'become technician with a token from the gateway (asks for it if not given)',
  details: [
    'The gateway mints tokens for one lock: lockctl tech-token --provisioning FILE --valid 2h.',
    'The token is never echoed (shown as *) and never kept in the history.',
    `${LOGIN_ATTEMPTS} wrong tokens lock login out for 5 min (across reboots).`,
    `The session ends after ${SESSION_IDLE_MS / 60_000} min idle, when the token expires, or on logout.`,
  ],
  async run(call) {
    const text = call.args.length > 0 ? call.args.join(' ') : await call.ask('token: ', { secret: true });
    return login(call, text);
  },
};

export const logout: CommandSpec = {
  name: 'logout',
  usage: 'logout',
  summary: 'end the technician session',
  run({ args, session }) {
    expectArgs(args, 0, 0, 'logout');
    if (!session.privileged) return ok('not logged in', { technician: false });
    session.end('logout');
    return ok('logged out', { technician: false });
  },
};

export const json: CommandSpec = {
  name: 'json',
  usage: 'json [on|off]',
  summary: 'answers as one JSON object a line (for tools), or plain text',
  completeArg: (index) => (index === 0 ? ['on', 'off'] : []),
  run({ args, session }) {
    expectArgs(args, 0, 1, 'json [on|off]');
    const choice = args[0]?.toLowerCase();
    if (choice !== undefined && choice !== 'on' && choice !== 'off') {
      throw new DiagError('bad_argument', 'json takes on or off');
    }
    if (choice) session.json = choice === 'on';
    return ok(`json mode ${session.json ? 'on' : 'off'}`, { json: session.json });
  },
};
