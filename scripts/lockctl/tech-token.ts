import { parseFlags, requireFlag, UsageError } from '../../firmware/cli.ts';
import { deriveTechKey, mintTechToken, TECH_TOKEN_MAX_VALID_MS } from '../../firmware/diag/tech-token.ts';
import { readProvisioning } from '../../firmware/provisioning.ts';

export const TECH_TOKEN_HELP = `Usage: lockctl tech-token --provisioning FILE --valid DURATION [--json]

Mints a technician token for one lock: typed at the lock's serial console with
\`login TOKEN\`, it allows the privileged commands (time set, mode set, relay unlock,
codes disable, factory-reset) until it expires (docs/diagnostics.md).

  --provisioning FILE   the lock's provisioning file (lockctl provision); the token
                        is signed with a key derived from its device secret
  --valid DURATION      how long it logs in: 30m, 2h, 1h30m (at most 24h)
  --json                print {token, deviceId, expiresAt} as JSON

The token is a credential: hand it to the technician, not to a log or a ticket.
The lock judges expiry by its own clock (by its last trusted time if the clock is
untrusted), so mint it close to the visit.`;

/** "2h", "30m", "1h30m", "90s": a duration in milliseconds, or undefined if not one. */
export function parseValidity(text: string): number | undefined {
  const match = /^(?:(\d{1,3})h)?(?:(\d{1,4})m)?(?:(\d{1,6})s)?$/.exec(text.trim());
  if (!match || text.trim() === '' || !(match[1] || match[2] || match[3])) return undefined;
  return (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)) * 1000;
}

export async function techTokenCommand(argv: string[]): Promise<number> {
  const command = 'lockctl tech-token';
  const { values, positionals } = parseFlags(command, argv, {
    provisioning: { type: 'string' },
    valid: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${TECH_TOKEN_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const file = requireFlag(command, values.provisioning, '--provisioning', 'FILE');
  const validText = requireFlag(command, values.valid, '--valid', 'DURATION (e.g. 2h)');
  const validMs = parseValidity(validText);
  if (validMs === undefined || validMs < 60_000 || validMs > TECH_TOKEN_MAX_VALID_MS) {
    throw new UsageError(
      `${command}: --valid must be a duration from 1m to 24h such as 30m, 2h or 1h30m, got ${JSON.stringify(validText)}`,
    );
  }
  const record = readProvisioning(file);
  const now = Date.now();
  const token = mintTechToken(deriveTechKey(record.secret), record.deviceId, validMs, now);
  const expiresAt = new Date(Math.floor((now + validMs) / 1000) * 1000).toISOString();
  if (values.json)
    process.stdout.write(`${JSON.stringify({ token, deviceId: record.deviceId, expiresAt })}\n`);
  else {
    process.stdout.write(`${token}\n`);
    process.stderr.write(`technician token for ${record.deviceId}, valid until ${expiresAt}\n`);
  }
  return 0;
}
