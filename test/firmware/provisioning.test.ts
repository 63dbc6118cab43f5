import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TumblerError } from '../../firmware/errors.ts';
import { openStore } from '../../firmware/firmware.ts';
import {
  createProvisioning,
  deriveDeviceKeys,
  installProvisioning,
  readProvisioning,
  writeProvisioning,
} from '../../firmware/provisioning.ts';
import { createDeviceSecret, DEVICE_KEY_FILE } from '../../firmware/store/secret.ts';
import { tempDir } from '../helpers/tmp.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('provisioning file', () => {
  it('round-trips, mode 0600, and refuses to overwrite', () => {
    const dir = tempDir();
    const path = join(dir, 'a.provisioning.json');
    const record = createProvisioning('door-1', Date.parse('2026-06-10T10:00:00Z'));
    writeProvisioning(path, record);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readProvisioning(path)).toEqual(record);
    expect(() => writeProvisioning(path, createProvisioning('door-1'))).toThrow(/exists already/);
    expect(hex(readProvisioning(path).secret)).toBe(hex(record.secret));
  });

  it.each([
    ['not JSON', '{"secret": "00', /not valid JSON/],
    ['missing field', JSON.stringify({ deviceId: 'a', secret: '0'.repeat(64) }), /createdAt/],
    [
      'short secret',
      JSON.stringify({ deviceId: 'a', secret: 'ab'.repeat(20), createdAt: '2026-01-01T00:00:00Z' }),
      /secret: must be 64/,
    ],
    [
      'bad device id',
      JSON.stringify({ deviceId: 'a b', secret: '0'.repeat(64), createdAt: '2026-01-01T00:00:00Z' }),
      /deviceId: must be 1-64/,
    ],
    [
      'extra field',
      JSON.stringify({ deviceId: 'a', secret: '0'.repeat(64), createdAt: '2026-01-01T00:00:00Z', pin: 1 }),
      /pin/,
    ],
  ])('names the problem: %s (never the secret)', (_name, text, pattern) => {
    const path = join(tempDir(), 'x.json');
    writeFileSync(path, text);
    try {
      readProvisioning(path);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TumblerError);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toMatch(/abababab|0{20}/);
    }
  });

  it('names a missing file', () => {
    expect(() => readProvisioning('/nonexistent/x.json')).toThrow(
      /cannot read provisioning file \/nonexistent\/x.json: ENOENT/,
    );
  });

  it('checks records it is given', () => {
    expect(() =>
      writeProvisioning(join(tempDir(), 'y.json'), {
        deviceId: 'a',
        secret: new Uint8Array(3),
        createdAt: 'x',
      }),
    ).toThrow(RangeError);
    expect(() => createProvisioning('no spaces')).toThrow(/deviceId/);
  });
});

describe('installProvisioning', () => {
  it('writes device.key at first boot; the store then uses that secret', () => {
    const dir = tempDir();
    const file = join(tempDir(), 'p.json');
    const record = createProvisioning('door-2');
    writeProvisioning(file, record);
    installProvisioning(dir, file);
    expect(statSync(join(dir, DEVICE_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, DEVICE_KEY_FILE), 'utf8').trim()).toBe(hex(record.secret));
    const parts = openStore(dir);
    expect(hex(parts.secret)).toBe(hex(record.secret));
    parts.db.close();
    // A second boot with the same file changes nothing.
    expect(installProvisioning(dir, file).deviceId).toBe('door-2');
  });

  it('refuses a data dir whose device.key is a different secret', () => {
    const dir = tempDir();
    const existing = createDeviceSecret(dir);
    const file = join(tempDir(), 'p.json');
    writeProvisioning(file, createProvisioning('door-3'));
    expect(() => installProvisioning(dir, file)).toThrow(/holds a different device secret/);
    expect(readFileSync(join(dir, DEVICE_KEY_FILE), 'utf8').trim()).toBe(hex(existing));
  });
});

describe('deriveDeviceKeys', () => {
  it('gives independent 32-byte keys for offline codes (per version) and signing', () => {
    const keys = deriveDeviceKeys(Uint8Array.from({ length: 32 }, (_, i) => i));
    const all = [keys.offline(1), keys.offline(2), keys.offline(1, 13), keys.signing].map(hex);
    expect(new Set(all).size).toBe(4);
    for (const key of all) expect(key).toHaveLength(64);
    expect(() => deriveDeviceKeys(new Uint8Array(31))).toThrow(RangeError);
  });
});
