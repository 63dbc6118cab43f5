import { readFileSync } from 'node:fs';
import { UsageError } from '../../firmware/cli.ts';
import { type BrokerOptions, DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { DEFAULT_GATEWAY_DB, type GatewayDb, getDevice, openGatewayDb } from '../../gateway/store.ts';

/** Flags every gateway command takes: the broker, TLS, credentials, the gateway's database. */
export const GATEWAY_FLAGS = {
  mqtt: { type: 'string' },
  username: { type: 'string' },
  'password-file': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  'gateway-db': { type: 'string' },
  db: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const GATEWAY_FLAGS_HELP = `Broker and gateway options (every command):
  --mqtt URL             broker (default $LOCKCTL_MQTT or mqtt://127.0.0.1:1883); mqtts:// for TLS
  --username NAME        broker user; the password comes from --password-file or $LOCKCTL_PASSWORD
  --password-file FILE   file holding the broker password
  --ca FILE --cert FILE --key FILE   TLS: CA, client certificate and key; --insecure skips verification
  --db FILE|URL          the gateway database: a SQLite file, or postgres://USER@HOST/DB
                         shared by gateway workers (default $LOCKCTL_DB or ${DEFAULT_GATEWAY_DB});
                         --gateway-db is the same flag
  --timeout SECONDS      how long to wait for the lock (default 10)
  --json                 machine-readable output`;

type GatewayValues = {
  [K in keyof typeof GATEWAY_FLAGS]?: (typeof GATEWAY_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

/** The gateway database from --db (or its older name --gateway-db), $LOCKCTL_DB, or the default file. */
export function gatewayDbPath(values: { db?: string; 'gateway-db'?: string }): string {
  if (values.db !== undefined && values['gateway-db'] !== undefined)
    throw new UsageError('lockctl: --db and --gateway-db name the same thing; give one');
  return values.db ?? values['gateway-db'] ?? process.env.LOCKCTL_DB ?? DEFAULT_GATEWAY_DB;
}

export function brokerOptions(command: string, values: GatewayValues): BrokerOptions {
  const url = values.mqtt ?? process.env.LOCKCTL_MQTT ?? 'mqtt://127.0.0.1:1883';
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/\S+$/.test(url)) {
    throw new UsageError(
      `${command}: --mqtt must be a broker URL such as mqtt://host:1883, got ${JSON.stringify(url)}`,
    );
  }
  let password = process.env.LOCKCTL_PASSWORD;
  if (values['password-file']) {
    try {
      password = readFileSync(values['password-file'], 'utf8').trim();
    } catch {
      throw new UsageError(`${command}: cannot read --password-file ${values['password-file']}`);
    }
  }
  return {
    url,
    ...(values.username ? { username: values.username } : {}),
    ...(password ? { password } : {}),
    ...(values.ca ? { caFile: values.ca } : {}),
    ...(values.cert ? { certFile: values.cert } : {}),
    ...(values.key ? { keyFile: values.key } : {}),
    ...(values.insecure ? { insecure: true } : {}),
  };
}

export function timeoutMs(command: string, values: GatewayValues): number {
  if (values.timeout === undefined) return 10_000;
  const seconds = Number(values.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new UsageError(
      `${command}: --timeout must be seconds from 0 to 3600, got ${JSON.stringify(values.timeout)}`,
    );
  }
  return seconds * 1000;
}

export function requireDevice(command: string, values: GatewayValues): string {
  if (!values.device) throw new UsageError(`${command}: --device ID is required`);
  return values.device;
}

/** Opens the gateway database, the device's channel, and a broker connection; closes them after `fn`. */
export async function withGateway<T>(
  command: string,
  values: GatewayValues,
  fn: (gateway: {
    db: GatewayDb;
    client: GatewayClient;
    channel: DeviceChannel;
    deviceId: string;
  }) => Promise<T>,
): Promise<T> {
  const deviceId = requireDevice(command, values);
  const db = await openGatewayDb(gatewayDbPath(values));
  try {
    const channel = new DeviceChannel(await getDevice(db, deviceId));
    const client = await GatewayClient.connect(brokerOptions(command, values));
    try {
      return await fn({ db, client, channel, deviceId });
    } finally {
      await client.close();
    }
  } finally {
    await db.close();
  }
}

export function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}
