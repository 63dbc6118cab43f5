import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, requireFlag, UsageError } from '../../firmware/cli.ts';
import { createProvisioning, provisioningFileName, writeProvisioning } from '../../firmware/provisioning.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { gatewayDbPath } from './common.ts';

export const PROVISION_HELP = `Usage: lockctl provision --device-id ID --out DIR [--json]

Makes a lock's provisioning file DIR/<ID>.provisioning.json (mode 0600): its device
id and a fresh 32-byte device secret. Boot the lock once with
\`lockfw run --provisioning FILE\` to install the secret; keep the file where the
gateway issues offline codes (lockctl offline-code --provisioning FILE).

  --device-id ID   1-64 letters, digits, _ or -
  --out DIR        directory for the file (created if missing)
  --db FILE|URL    also register the lock in this gateway database, a SQLite file or
                   postgres:// URL (default $LOCKCTL_DB or .tumbler/gateway.db;
                   --gateway-db is the same flag); --no-register skips it
  --json           print {deviceId, path, createdAt} as JSON

Never overwrites an existing file: a lock's secret must not change under it.`;

export async function provisionCommand(argv: string[]): Promise<number> {
  const command = 'lockctl provision';
  const { values, positionals } = parseFlags(command, argv, {
    'device-id': { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
    'gateway-db': { type: 'string' },
    db: { type: 'string' },
    'no-register': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(`${PROVISION_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
  const deviceId = requireFlag(command, values['device-id'], '--device-id', 'ID');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(deviceId)) {
    throw new UsageError(
      `${command}: --device-id must be 1-64 letters, digits, _ or -, got ${JSON.stringify(deviceId)}`,
    );
  }
  const out = requireFlag(command, values.out, '--out', 'DIR');
  if (!existsSync(out)) mkdirSync(out, { recursive: true, mode: 0o700 });
  const path = join(out, provisioningFileName(deviceId));
  const record = createProvisioning(deviceId);
  writeProvisioning(path, record);
  if (!values['no-register']) {
    const db = await openGatewayDb(gatewayDbPath(values));
    try {
      await addDevice(db, deviceId, record.secret);
    } finally {
      await db.close();
    }
  }
  if (values.json)
    process.stdout.write(`${JSON.stringify({ deviceId, path, createdAt: record.createdAt })}\n`);
  else
    process.stdout.write(
      `wrote ${path} for device ${deviceId} (it holds the device secret: keep it private)\n`,
    );
  return 0;
}
