import { type Answer, DiagError, fail, ok } from '../answer.ts';
import { expectArgs } from '../args.ts';
import { deviceIdOf } from '../context.ts';
import { LOGIN_ATTEMPTS, LOGIN_POLICY, type LoginLockoutCause, loginLockout } from '../login-lockout.ts';
import type { CommandCall, CommandRegistry, CommandSpec } from '../registry.ts';
import { SESSION_IDLE_MS, tokenDeadline } from '../session.ts';
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

const LOCKOUT_CAUSES: Record<LoginLockoutCause, string> = {
  consecutive: 'wrong tokens',
  daily_budget: `${LOGIN_POLICY.dailyFailureLimit} wrong tokens today`,
  corrupt_state: 'its stored counters did not read back',
};

async function login(call: CommandCall, text: string): Promise<Answer> {
  const { firmware } = call.ctx;
  const { manager, db } = firmware;
  const lockout = loginLockout(firmware.state, call.ctx.scheduler);
  const reading = await manager.refreshClock();
  const now = reading.epochMs;
  const zone = manager.getSettings().timezone;
  const gate = lockout.check(now, zone);
  if (!gate.open) {
    if (gate.cause === 'corrupt_state') {
      manager.record(
        'technician_lockout',
        { cause: gate.cause, seconds: Math.ceil(gate.remainingMs / 1000) },
        now,
      );
    }
    return fail(
      'login_locked_out',
      `login is locked out for ${formatDuration(gate.remainingMs)} more (${LOCKOUT_CAUSES[gate.cause]})`,
      { retry_after_s: Math.ceil(gate.remainingMs / 1000), cause: gate.cause },
    );
  }
  // A dead RTC reads the past, where every old token looks fresh: judge against the
  // last trusted time instead, so only a token still valid then gets in.
  const reference = reading.trusted ? now : Math.max(now, firmware.clock.snapshot().floor);
  const check = verifyTechToken(deriveTechKey(firmware.secret), deviceIdOf(call.ctx), text, reference);
  // The wall clock can be set back: a token is also held to the time since its first
  // login, counted on the monotonic scheduler.
  const deadline = check.ok ? tokenDeadline(call.ctx, check.token, check.token.expiresAt - reference) : 0;
  const leftMs = deadline - call.ctx.scheduler.now();
  if (check.ok && leftMs > 0) {
    const { token } = check;
    db.transaction(() => {
      lockout.recordSuccess();
      manager.record(
        'technician_login',
        { token_id: token.tokenId, expires_at: isoUtc(token.expiresAt) },
        now,
      );
    }).immediate();
    call.session.begin(token, deadline);
    const until = Math.min(token.expiresAt, reference + leftMs);
    return ok(
      [
        `logged in as technician until ${localDateTime(until, zone)} (${formatDuration(until - reference)} left).`,
        `The session ends after ${SESSION_IDLE_MS / 60_000} min idle; type logout when done.`,
      ],
      { technician: true, token_id: token.tokenId, expires_at: isoUtc(token.expiresAt) },
    );
  }
  if (check.ok || check.reason === 'expired') {
    // A genuine token past its time is not a guess: it does not count toward the lockout.
    const token = check.token!;
    manager.record(
      'technician_login_refused',
      { reason: 'expired', token_id: token.tokenId, clock: check.ok ? 'monotonic' : 'wall' },
      now,
    );
    return fail(
      'token_expired',
      check.ok
        ? 'that token has been used longer than it was valid for (the clock was set back); ask the gateway for a new one'
        : `that token expired at ${localDateTime(token.expiresAt, zone)}; ask the gateway for a new one`,
    );
  }
  const reason = check.reason;
  const counted = db
    .transaction(() => {
      const result = lockout.recordFailure(now, zone);
      manager.record('technician_login_refused', { reason, attempts_left: result.attemptsLeft }, now);
      if (result.lockout) {
        manager.record(
          'technician_lockout',
          { cause: result.lockout.cause, seconds: Math.ceil(result.lockout.remainingMs / 1000) },
          now,
        );
      }
      return result;
    })
    .immediate();
  const left = counted.attemptsLeft;
  const tail = counted.lockout
    ? `login is now locked out for ${formatDuration(counted.lockout.remainingMs)}`
    : `${left} attempt${left === 1 ? '' : 's'} left before a lockout`;
  return fail(`token_${reason}`, `login refused: ${REFUSALS[reason]}; ${tail}`, {
    attempts_left: left,
  });
}

export const loginCommand: CommandSpec = {
  name: 'login',
  usage: 'login [TOKEN]',
  summary: 'become technician with a token from the gateway (asks for it if not given)',
  details: [
    'The gateway mints tokens for one lock: lockctl tech-token --provisioning FILE --valid 2h.',
    'The token is never echoed (shown as *) and never kept in the history.',
    `${LOGIN_ATTEMPTS} wrong tokens in a row lock login out for 5 min, each further lockout for twice as long (up to 4 h);`,
    `${LOGIN_POLICY.dailyFailureLimit} wrong tokens in a day lock it out until midnight. Kept across reboots.`,
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
