import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { v2CodeLength } from './access/offline.ts';
import { isValidZone } from './access/schedule.ts';
import { TumblerError } from './errors.ts';
import { LOG_LEVELS } from './log.ts';
import { describeZodError } from './validation.ts';

const seconds = (min: number, max: number) => z.number().min(min).max(max);
const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** The lock's settings. Every field has a default; a config file overrides some. */
export const configSchema = z
  .object({
    deviceId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
      .default('lock-1'),
    timezone: z
      .string()
      .refine(isValidZone, 'must be an IANA time zone such as Europe/Berlin')
      .default('UTC'),
    autoRelockSeconds: seconds(0, 3600).default(5),
    /** Door open longer than this: audited as door_held_open and the alarm sounds; 0 = never. */
    doorHeldOpenSeconds: int(0, 86_400).default(0),
    entryTimeoutSeconds: seconds(1, 120).default(10),
    actuationTimeoutMs: int(50, 60_000).default(3000),
    actuationRetries: int(0, 5).default(1),
    wrongCodeLimit: int(1, 100).default(5),
    lockoutSeconds: int(1, 86_400).default(30),
    lockoutMaxSeconds: int(1, 86_400).default(3600),
    dailyFailureLimit: int(1, 10_000).default(50),
    windowGraceSeconds: int(0, 3600).default(120),
    clockFloorToleranceSeconds: int(0, 86_400).default(300),
    codeCapacity: int(1, 100_000).default(1000),
    /** Audit rows always kept; older ones go once the gateway has them (firmware/store/retention.ts). */
    auditKeepRows: int(100, 10_000_000).default(10_000),
    offlineCodeLength: int(11, 16).default(12),
    logLevel: z.enum(LOG_LEVELS).default('info'),
    /** The gateway link (docs/protocol.md); absent: the lock runs offline. */
    mqtt: z
      .object({
        url: z
          .string()
          .regex(
            /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/,
            'must be a broker URL such as mqtt://host:1883 or mqtts://host:8883',
          ),
        username: z.string().min(1).optional(),
        /** A file holding the password (keeps it out of the config and the process list). */
        passwordFile: z.string().min(1).optional(),
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().default(true),
        outboxMax: int(100, 10_000_000).default(100_000),
        publishWindow: int(1, 1000).default(64),
        ackTimeoutSeconds: int(1, 3600).default(10),
        timeSyncMaxRoundTripMs: int(10, 60_000).default(2000),
        homeAssistant: z
          .object({ discovery: z.boolean().default(true), allowUnlock: z.boolean().default(false) })
          .strict()
          .default({ discovery: true, allowUnlock: false }),
      })
      .strict()
      .optional(),
    /** The Matter node (`lockfw run --matter`, docs/matter.md); read only when that flag is given. */
    matter: z
      .object({
        /** UDP port of the Matter node (5540 is Matter's default). */
        port: int(1, 65_535).default(5540),
        /** 12-bit commissioning discriminator; absent: random at first start, then kept. */
        discriminator: int(0, 4095).optional(),
        /** Setup passcode; absent: random at first start, then kept in the data dir's matter/. */
        passcode: int(1, 99_999_998)
          .refine(
            (n) => !(n % 11_111_111 === 0 || n === 12_345_678 || n === 87_654_321),
            'must not be one Matter forbids (11111111, 22222222, ..., 12345678, 87654321)',
          )
          .optional(),
        /** RequirePINforRemoteOperation: an UnlockDoor without a PIN is refused. */
        requirePinForRemoteOperation: z.boolean().default(true),
        /** The one network interface mDNS runs on (e.g. "eth0"); absent: every interface. */
        interface: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,15}$/, 'must be a network interface name (1-15 letters, digits, _.:-)')
          .optional(),
      })
      .strict()
      .default({ port: 5540, requirePinForRemoteOperation: true }),
  })
  .strict();

export type FirmwareConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export const DEFAULT_CONFIG: FirmwareConfig = configSchema.parse({});

/** Longest keypad entry the collector accepts before refusing it as malformed: a version 2 offline code. */
export function maxEntryLength(config: FirmwareConfig): number {
  return v2CodeLength(config.offlineCodeLength);
}

/** Environment overrides: LOCKFW_TIMEZONE, LOCKFW_AUTO_RELOCK_SECONDS, ... (numbers parsed). */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const name = `LOCKFW_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    out[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return out;
}

/**
 * Builds the config from defaults < file < environment < flags. Any bad field is
 * refused with a message naming it and its source.
 */
export function loadConfig(sources: {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
}): FirmwareConfig {
  let fromFile: Record<string, unknown> = {};
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (error) {
      throw new TumblerError(
        'config_unreadable',
        `cannot read config file ${sources.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new TumblerError(
        'config_invalid',
        `config file ${sources.file} is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new TumblerError('config_invalid', `config file ${sources.file} must hold a JSON object`);
    }
  }
  const layers: Array<[string, Record<string, unknown>]> = [
    [sources.file ? `config file ${sources.file}` : 'config', fromFile],
    ['environment', sources.env ? configFromEnv(sources.env) : {}],
    ['flags', sources.overrides ?? {}],
  ];
  let merged: Record<string, unknown> = {};
  for (const [name, layer] of layers) {
    const checked = configSchema.partial().safeParse(layer);
    if (!checked.success)
      throw new TumblerError('config_invalid', `${name}: ${describeZodError(checked.error)}`);
    // mqtt and matter merge one level deep, so `--mqtt URL` keeps the file's other mqtt settings.
    const mqtt =
      layer.mqtt && merged.mqtt ? { mqtt: { ...(merged.mqtt as object), ...(layer.mqtt as object) } } : {};
    const matter =
      layer.matter && merged.matter
        ? { matter: { ...(merged.matter as object), ...(layer.matter as object) } }
        : {};
    merged = { ...merged, ...layer, ...mqtt, ...matter };
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new TumblerError('config_invalid', describeZodError(result.error));
  return result.data;
}
