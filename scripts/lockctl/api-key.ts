import { parseFlags, requireFlag, UsageError } from '../../firmware/cli.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../../gateway/seam/api-keys.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { DEFAULT_GATEWAY_DB } from '../../gateway/store.ts';
import { gatewayDbPath, print } from './common.ts';

export const API_KEY_HELP = `Usage: lockctl api-key <create|list|revoke> [options]

Keys for the Seam API of lockctl serve (Authorization: Bearer seam_...). Only a key's
SHA-256 is stored: create prints the key once, keep it then.

  lockctl api-key create --name NAME     prints the new key
  lockctl api-key create --publishable --name NAME
                                         a publishable key (seam_pk_...): with a user
                                         identifier it opens the web console at /console
                                         (client sessions only; docs/console.md)
  lockctl api-key list                   id, name, created, revoked (publishable: pk_ ids)
  lockctl api-key revoke --id ID         the key stops working at once (401), and so do
                                         the client sessions it opened

  --db FILE|URL       the gateway database: a SQLite file, or postgres://USER@HOST/DB
                      shared by gateway workers (default $LOCKCTL_DB or ${DEFAULT_GATEWAY_DB});
                      --gateway-db is the same flag
  --json              machine-readable output`;

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

export async function apiKeyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const command = `lockctl api-key ${sub ?? ''}`.trim();
  const { values, positionals } = parseFlags(command, rest, {
    name: { type: 'string' },
    id: { type: 'string' },
    publishable: { type: 'boolean' },
    db: { type: 'string' },
    'gateway-db': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!sub || values.help) {
    process.stdout.write(`${API_KEY_HELP}\n`);
    return sub ? 0 : 2;
  }
  if (!['create', 'list', 'revoke'].includes(sub))
    throw new UsageError(
      `lockctl api-key: unknown subcommand ${JSON.stringify(sub)}; expected create, list or revoke`,
    );
  if (positionals.length)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const name = sub === 'create' ? requireFlag(command, values.name, '--name', 'NAME') : undefined;
  if (name !== undefined && (name.trim() === '' || name.length > 100))
    throw new UsageError(`${command}: --name must be 1 to 100 characters`);
  if (values.publishable && sub !== 'create')
    throw new UsageError(`${command}: --publishable applies to create only`);
  const id =
    sub === 'revoke' ? requireFlag(command, values.id, '--id', 'ID (lockctl api-key list)') : undefined;
  const store = await openSeamStore(gatewayDbPath(values));
  try {
    if (name !== undefined) {
      const kind = values.publishable ? 'publishable_key' : 'api_key';
      const { key, info } = await createApiKey(store.sql, name, Date.now(), kind);
      print(
        values.json,
        { api_key_id: info.apiKeyId, name: info.name, key },
        kind === 'publishable_key'
          ? `${key}\n(publishable key ${info.apiKeyId} "${info.name}": shown once, keep it now; with a user identifier it opens the console at /console/ of lockctl serve)`
          : `${key}\n(api key ${info.apiKeyId} "${info.name}": shown once, keep it now)`,
      );
    } else if (id !== undefined) {
      await revokeApiKey(store.sql, id);
      print(values.json, { ok: true, api_key_id: id }, `revoked api key ${id}`);
    } else {
      const keys = await listApiKeys(store.sql);
      print(
        values.json,
        keys.map((k) => ({
          api_key_id: k.apiKeyId,
          name: k.name,
          created_at: when(k.createdAt),
          revoked_at: k.revokedAt === null ? null : when(k.revokedAt),
        })),
        keys.length
          ? keys
              .map(
                (k) =>
                  `${k.apiKeyId}  ${k.name.padEnd(24)} created ${when(k.createdAt)}  revoked ${when(k.revokedAt)}`,
              )
              .join('\n')
          : 'no api keys',
      );
    }
    return 0;
  } finally {
    await store.sql.close();
  }
}
