import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openStore } from '../../firmware/firmware.ts';
import { issueForLock, offlineKeyVersion } from '../../firmware/offline-path.ts';
import { createProvisioning, installProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { readStoreIdentity, readStoreMarker, STORE_MARKER_FILE } from '../../firmware/store/identity.ts';
import { OfflineStore } from '../../firmware/store/offline.ts';
import { createDeviceSecret, DEVICE_KEY_FILE } from '../../firmware/store/secret.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { tempDir } from '../helpers/tmp.ts';

/** A data dir holding a store made by a first start. */
function initialised(): string {
  const dir = tempDir();
  openStore(dir, { init: true }).db.close();
  return dir;
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  throw new Error('expected a refusal');
};

describe('store binding: a store once made is never silently made again', () => {
  it('creates key, database and store.id together (all 0600) only when asked', () => {
    const dir = tempDir();
    expect(refusal(() => openStore(dir, { init: false }))).toMatchObject({ code: 'store_missing' });
    expect(existsSync(join(dir, DEVICE_KEY_FILE))).toBe(false);
    expect(existsSync(join(dir, DB_FILE))).toBe(false);

    const parts = openStore(dir, { init: true });
    const marker = readStoreMarker(dir)!;
    expect(marker.incarnation).toBe(parts.incarnation);
    expect(readStoreIdentity(parts.db).keyFingerprint).toBe(marker.keyFingerprint);
    expect(marker.offlineKeyVersion).toBe(1);
    parts.db.close();
    for (const file of [DEVICE_KEY_FILE, DB_FILE, STORE_MARKER_FILE])
      expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    // The fingerprint is derived: the key's hex never appears in store.id.
    const key = readFileSync(join(dir, DEVICE_KEY_FILE), 'utf8').trim();
    expect(readFileSync(join(dir, STORE_MARKER_FILE), 'utf8')).not.toContain(key.slice(0, 16));
  });

  it('refuses a deleted or zero-length lock.db beside a surviving device.key, even with init', () => {
    const dir = initialised();
    rmSync(join(dir, DB_FILE));
    const lost = refusal(() => openStore(dir, { init: true }));
    expect(lost.code).toBe('store_lost');
    expect(lost.message).toMatch(/lock\.db is missing.*--replace-lost-store.*docs\/reliability\.md/);
    expect(existsSync(join(dir, DB_FILE))).toBe(false);

    writeFileSync(join(dir, DB_FILE), '');
    expect(refusal(() => openStore(dir, { init: true }))).toMatchObject({
      code: 'store_lost',
      message: expect.stringMatching(/lock\.db is empty/),
    });
  });

  it('refuses a missing device.key beside lock.db and never makes a new one', () => {
    const dir = initialised();
    rmSync(join(dir, DEVICE_KEY_FILE));
    expect(refusal(() => openStore(dir, { init: true }))).toMatchObject({
      code: 'device_key_missing',
      message: expect.stringMatching(/--provisioning FILE/),
    });
    expect(existsSync(join(dir, DEVICE_KEY_FILE))).toBe(false);
  });

  it('takes a lost device.key back from its provisioning file (the same secret)', () => {
    const dir = tempDir();
    const file = join(tempDir(), 'door.provisioning.json');
    writeProvisioning(file, createProvisioning('door-9'));
    installProvisioning(dir, file);
    openStore(dir, { init: true }).db.close();
    rmSync(join(dir, DEVICE_KEY_FILE));
    installProvisioning(dir, file);
    openStore(dir, { init: false }).db.close();
  });

  it('refuses a different, a damaged or an empty device.key', () => {
    const dir = initialised();
    const keyFile = join(dir, DEVICE_KEY_FILE);
    const original = readFileSync(keyFile);
    rmSync(keyFile);
    createDeviceSecret(dir);
    expect(refusal(() => openStore(dir))).toMatchObject({ code: 'device_key_mismatch' });
    writeFileSync(keyFile, 'not a key\n');
    expect(refusal(() => openStore(dir))).toMatchObject({ code: 'device_key_invalid' });
    writeFileSync(keyFile, '');
    expect(refusal(() => openStore(dir))).toMatchObject({ code: 'device_key_invalid' });
    writeFileSync(keyFile, original);
    openStore(dir, { init: false }).db.close();
  });

  it("refuses another store's lock.db, even one made with the same key", () => {
    const dir = initialised();
    const other = tempDir();
    copyFileSync(join(dir, DEVICE_KEY_FILE), join(other, DEVICE_KEY_FILE));
    openStore(other).db.close();
    copyFileSync(join(other, DB_FILE), join(dir, DB_FILE));
    expect(refusal(() => openStore(dir))).toMatchObject({ code: 'store_mismatch' });
  });

  it('binds a store made before the binding existed, without a flag', () => {
    const dir = tempDir();
    createDeviceSecret(dir);
    openStore(dir).db.close();
    rmSync(join(dir, STORE_MARKER_FILE));
    const db = new Database(join(dir, DB_FILE));
    db.prepare('UPDATE store_identity SET key_fingerprint = NULL').run();
    db.close();
    const parts = openStore(dir, { init: false });
    expect(readStoreIdentity(parts.db).keyFingerprint).toMatch(/^[0-9a-f]{32}$/);
    expect(readStoreMarker(dir)?.incarnation).toBe(parts.incarnation);
    parts.db.close();
  });
});

describe('replacing a lost lock.db', () => {
  it('needs --replace-lost-store, is audited once, and no offline code of the lost store opens again', async () => {
    const dir = tempDir();
    const start = Date.parse('2026-06-10T12:00:00Z');
    const lock = await SimLock.create({ dataDir: dir, startEpochMs: start });
    const hour = Math.floor(start / 3_600_000) * 3_600_000;
    const oneTime = issueForLock(
      lock.firmware,
      { kind: 'one_time', start: hour },
      { timezone: 'UTC', now: start },
    );
    await lock.press(`${oneTime.code}#`);
    expect(lock.firmware.manager.status().lastDecision?.decision.outcome).toBe('granted');
    const lostIncarnation = lock.firmware.incarnation;
    await lock.close();

    rmSync(join(dir, DB_FILE));
    expect(refusal(() => openStore(dir, { replaceLost: false }))).toMatchObject({ code: 'store_lost' });
    const replaced = openStore(dir, { replaceLost: true });
    expect(replaced.incarnation).not.toBe(lostIncarnation);
    expect(replaced.replaced).toMatchObject({ replaces: lostIncarnation, offlineKeyVersion: 2 });
    expect(replaced.audit.latest(10).map((row) => row.type)).toEqual(['store_replaced']);
    replaced.db.close();
    // Only once: the flag is refused now that a store is here, and a plain open announces nothing.
    expect(refusal(() => openStore(dir, { replaceLost: true }))).toMatchObject({ code: 'store_not_lost' });
    const again = openStore(dir, { init: false });
    expect(again.replaced).toBeUndefined();
    expect(offlineKeyVersion(again)).toBe(2);
    again.db.close();

    const after = await SimLock.create({ dataDir: dir, startEpochMs: start + 60_000 });
    await after.press(`${oneTime.code}#`);
    expect(after.firmware.manager.status().lastDecision?.decision).toMatchObject({
      outcome: 'denied',
      reason: 'unknown_code',
    });
    await after.close();
  });

  it('keeps the offline key version in store.id before an erase commits: a restored older lock.db catches up', () => {
    const dir = initialised();
    const backup = join(tempDir(), 'lock.db.bak');
    copyFileSync(join(dir, DB_FILE), backup);
    const parts = openStore(dir);
    parts.db.transaction(() => new OfflineStore(parts.db).rotateKey(Date.now())).immediate();
    expect(readStoreMarker(dir)?.offlineKeyVersion).toBe(2);
    parts.db.close();

    copyFileSync(backup, join(dir, DB_FILE));
    const restored = openStore(dir, { init: false });
    expect(offlineKeyVersion(restored)).toBe(2);
    expect(restored.audit.latest(1)[0]).toMatchObject({
      type: 'offline_key_rotated',
      data: { from_version: 1, to_version: 2, reason: 'store_marker' },
    });
    restored.db.close();
  });
});
