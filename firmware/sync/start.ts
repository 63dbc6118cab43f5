import { readFileSync } from 'node:fs';
import type { FirmwareConfig } from '../config.ts';
import { TumblerError } from '../errors.ts';
import type { Firmware } from '../firmware.ts';
import { SyncLink } from './link.ts';

type MqttConfig = NonNullable<FirmwareConfig['mqtt']>;

/** The broker password and TLS files, read before anything starts. */
export interface SyncFiles {
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

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

/**
 * Reads every file the `mqtt` section names. Part of start-up: an unreadable password
 * or certificate refuses the start (one line) before the lock opens its store or moves
 * its relay, rather than leaving a lock that grants codes with no gateway link.
 */
export function loadSyncFiles(mqtt: MqttConfig): SyncFiles {
  const password = readFileFor('passwordFile', mqtt.passwordFile)?.toString('utf8').trim();
  const ca = readFileFor('caFile', mqtt.caFile);
  const cert = readFileFor('certFile', mqtt.certFile);
  const key = readFileFor('keyFile', mqtt.keyFile);
  return {
    ...(password !== undefined ? { password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}

/** Starts the gateway link from the config's `mqtt` section and the files `loadSyncFiles` read. */
export function startSync(
  firmware: Firmware,
  mqtt: MqttConfig,
  deviceId: string,
  files: SyncFiles,
  simKeypad?: (keys: string) => void,
): SyncLink {
  const link = new SyncLink(firmware, deviceId, {
    url: mqtt.url,
    ...(mqtt.username ? { username: mqtt.username } : {}),
    ...files,
    rejectUnauthorized: mqtt.rejectUnauthorized,
    outboxMax: mqtt.outboxMax,
    window: mqtt.publishWindow,
    ackTimeoutMs: mqtt.ackTimeoutSeconds * 1000,
    maxRoundTripMs: mqtt.timeSyncMaxRoundTripMs,
    homeAssistant: mqtt.homeAssistant,
    ...(simKeypad ? { simKeypad } : {}),
  });
  link.start();
  return link;
}
