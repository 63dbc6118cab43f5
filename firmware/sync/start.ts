import { readFileSync } from 'node:fs';
import type { FirmwareConfig } from '../config.ts';
import { TumblerError } from '../errors.ts';
import type { Firmware } from '../firmware.ts';
import { SyncLink } from './link.ts';

function readFileFor(field: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TumblerError(
      'config_invalid',
      `mqtt.${field}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** Starts the gateway link from the config's `mqtt` section. */
export function startSync(
  firmware: Firmware,
  mqtt: NonNullable<FirmwareConfig['mqtt']>,
  deviceId: string,
): SyncLink {
  const password = readFileFor('passwordFile', mqtt.passwordFile)?.toString('utf8').trim();
  const ca = readFileFor('caFile', mqtt.caFile);
  const cert = readFileFor('certFile', mqtt.certFile);
  const key = readFileFor('keyFile', mqtt.keyFile);
  const link = new SyncLink(firmware, deviceId, {
    url: mqtt.url,
    ...(mqtt.username ? { username: mqtt.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: mqtt.rejectUnauthorized,
    outboxMax: mqtt.outboxMax,
    window: mqtt.publishWindow,
    ackTimeoutMs: mqtt.ackTimeoutSeconds * 1000,
    maxRoundTripMs: mqtt.timeSyncMaxRoundTripMs,
    homeAssistant: mqtt.homeAssistant,
  });
  link.start();
  return link;
}
