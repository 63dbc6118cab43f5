import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { issueOfflineCode } from '../../firmware/access/offline-issue.ts';
import { DEFAULT_CONFIG, type FirmwareConfig } from '../../firmware/config.ts';
import { DB_FILE, openStore, type StoreParts } from '../../firmware/firmware.ts';
import {
  createOfflineResolver,
  issueForLock,
  listOfflineCodes,
  offlineKeyVersion,
  revokeOfflineCode,
} from '../../firmware/offline-path.ts';
import { schemaVersion } from '../../firmware/store/db.ts';
import { MIGRATIONS } from '../../firmware/store/migrations.ts';
import { OfflineStore, PRUNE_MARGIN_MS } from '../../firmware/store/offline.ts';
import { tempDir } from '../helpers/tmp.ts';

const ZONE = 'Europe/Berlin';
const START = Date.parse('2026-06-10T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 86_400_000;
const config: FirmwareConfig = { ...DEFAULT_CONFIG, timezone: ZONE };
const trusted = (epochMs: number) => ({
  epochMs,
  trusted: true,
  untrustedReason: null,
  floor: epochMs,
  highWater: epochMs,
});

/** One decision's write path, as LockManager runs it: resolve, then record inside a transaction. */
function grant(
  parts: StoreParts,
  resolver: ReturnType<typeof createOfflineResolver>,
  code: string,
  at: number,
) {
  const credential = resolver.resolve(code, trusted(at), ZONE);
  if (!credential) throw new Error('did not verify');
  parts.db.transaction(() => resolver.recordGrant(code, credential, at)).immediate();
  return credential;
}

describe('offline store on disk', () => {
  it('migration 3 adds the tables and starts at key version 1', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    expect(schemaVersion(parts.db)).toBe(MIGRATIONS.length);
    expect(MIGRATIONS.length).toBeGreaterThanOrEqual(3);
    const tables = parts.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'offline%'")
      .pluck()
      .all();
    expect(tables.sort()).toEqual(['offline_codes', 'offline_key', 'offline_revocations']);
    expect(offlineKeyVersion(parts)).toBe(1);
    parts.db.close();
  });

  it('counts uses, keeps the first one, and survives reopening', () => {
    const dir = tempDir();
    let parts = openStore(dir);
    const store = new OfflineStore(parts.db);
    const window = { startsAt: START, endsAt: START + 3 * DAY };
    store.recordUse(1, 'aaaaaaaaaaaaaaaa', 'hourly', window, START + HOUR);
    store.recordUse(1, 'aaaaaaaaaaaaaaaa', 'hourly', window, START + 2 * HOUR);
    parts.db.close();
    parts = openStore(dir);
    expect(new OfflineStore(parts.db).get(1, 'aaaaaaaaaaaaaaaa')).toEqual({
      keyVersion: 1,
      fingerprint: 'aaaaaaaaaaaaaaaa',
      kind: 'hourly',
      startsAt: START,
      endsAt: START + 3 * DAY,
      firstUsedAt: START + HOUR,
      lastUsedAt: START + 2 * HOUR,
      uses: 2,
    });
    expect(new OfflineStore(parts.db).get(2, 'aaaaaaaaaaaaaaaa')).toBeUndefined();
    parts.db.close();
  });

  it('prunes rows ended more than the margin ago, never permanent ones', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const store = new OfflineStore(parts.db);
    store.recordUse(1, 'old0000000000000', 'one_time', { startsAt: START, endsAt: START + DAY }, START);
    store.recordUse(
      1,
      'recent0000000000',
      'one_time',
      { startsAt: START + 10 * DAY, endsAt: START + 11 * DAY },
      START,
    );
    store.recordUse(1, 'perm000000000000', 'permanent', { startsAt: START, endsAt: null }, START);
    store.revoke(1, 'rev0000000000000', START, 'gateway', START + DAY);
    store.revoke(1, 'rev1111111111111', START, 'gateway', null);
    const now = START + DAY + PRUNE_MARGIN_MS + 1;
    expect(store.prune(now)).toBe(2);
    expect(store.get(1, 'old0000000000000')).toBeUndefined();
    expect(store.get(1, 'recent0000000000')).toBeDefined();
    expect(store.get(1, 'perm000000000000')).toBeDefined();
    expect(store.isRevoked(1, 'rev0000000000000')).toBe(false);
    expect(store.isRevoked(1, 'rev1111111111111')).toBe(true);
    parts.db.close();
  });

  it('rotating the key forgets every row of the older versions', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const store = new OfflineStore(parts.db);
    store.recordUse(1, 'aaaaaaaaaaaaaaaa', 'permanent', { startsAt: START, endsAt: null }, START);
    store.revoke(1, 'bbbbbbbbbbbbbbbb', START, 'gateway');
    expect(store.rotateKey(START + DAY)).toEqual({ from: 1, to: 2 });
    expect(store.keyVersion()).toBe(2);
    expect(store.rotatedAt()).toBe(START + DAY);
    expect(parts.db.prepare('SELECT COUNT(*) FROM offline_codes').pluck().get()).toBe(0);
    expect(parts.db.prepare('SELECT COUNT(*) FROM offline_revocations').pluck().get()).toBe(0);
    parts.db.close();
  });

  it('a rotation rolled back (power cut before commit) leaves the version as it was', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const store = new OfflineStore(parts.db);
    expect(store.keyVersion()).toBe(1);
    expect(() =>
      parts.db
        .transaction(() => {
          expect(store.rotateKey(START)).toEqual({ from: 1, to: 2 });
          expect(store.keyVersion()).toBe(2);
          throw new Error('power cut');
        })
        .immediate(),
    ).toThrow('power cut');
    expect(store.keyVersion()).toBe(1);
    parts.db.close();
  });
});

describe('offline path with the store', () => {
  it('a one_time code is used once; the use survives a reopen', () => {
    const dir = tempDir();
    let parts = openStore(dir);
    let resolver = createOfflineResolver(parts, config);
    const code = issueForLock(parts, { kind: 'one_time', start: START }, { timezone: ZONE, now: START });
    expect(grant(parts, resolver, code.code, START + HOUR)).toMatchObject({
      kind: 'one_time',
      uses: 0,
      name: `offline:${code.fingerprint}`,
    });
    parts.db.close();
    parts = openStore(dir);
    resolver = createOfflineResolver(parts, config);
    expect(resolver.resolve(code.code, trusted(START + 2 * HOUR), ZONE)).toMatchObject({
      kind: 'one_time',
      uses: 1,
    });
    parts.db.close();
  });

  it('a multi-use code is activated by its first use and listed by fingerprint', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const code = issueForLock(
      parts,
      { kind: 'hourly', start: START, hours: 72 },
      { timezone: ZONE, now: START },
    );
    expect(resolver.resolve(code.code, trusted(START + HOUR), ZONE)).toMatchObject({
      endsAt: START + 24 * HOUR,
      firstUsedAt: null,
    });
    grant(parts, resolver, code.code, START + HOUR);
    expect(resolver.resolve(code.code, trusted(START + 50 * HOUR), ZONE)).toMatchObject({
      endsAt: START + 72 * HOUR,
      firstUsedAt: START + HOUR,
      uses: 1,
    });
    const listing = listOfflineCodes(parts, START + 2 * HOUR);
    expect(listing.keyVersion).toBe(1);
    expect(listing.active).toMatchObject([
      { fingerprint: code.fingerprint, kind: 'hourly', startsAt: START, endsAt: START + 72 * HOUR, uses: 1 },
    ]);
    expect(listOfflineCodes(parts, START + 73 * HOUR).active).toEqual([]);
    parts.db.close();
  });

  it('revokes by fingerprint and by the digits (ahead of the start), audited, idempotent', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const a = issueForLock(
      parts,
      { kind: 'hourly', start: START, hours: 72 },
      { timezone: ZONE, now: START },
    );
    const b = issueForLock(
      parts,
      { kind: 'hourly', start: START + 30 * DAY, hours: 5 },
      { timezone: ZONE, now: START },
    );
    expect(revokeOfflineCode(parts, { fingerprint: a.fingerprint }, { by: 'gateway', now: START })).toEqual({
      ok: true,
      fingerprint: a.fingerprint,
      keyVersion: 1,
      alreadyRevoked: false,
    });
    expect(
      revokeOfflineCode(parts, { fingerprint: a.fingerprint }, { by: 'gateway', now: START }),
    ).toMatchObject({ alreadyRevoked: true });
    expect(
      revokeOfflineCode(parts, { code: b.grouped }, { by: 'technician', now: START, timezone: ZONE }),
    ).toMatchObject({
      ok: true,
      fingerprint: b.fingerprint,
    });
    expect(resolver.resolve(a.code, trusted(START + HOUR), ZONE)).toMatchObject({ revoked: true });
    expect(resolver.resolve(b.code, trusted(START + 30 * DAY), ZONE)).toMatchObject({ revoked: true });
    const rows = parts.audit.latest(10).filter((row) => row.type === 'offline_revoked');
    expect(rows.map((row) => row.data.code_name)).toEqual([
      `offline:${a.fingerprint}`,
      `offline:${b.fingerprint}`,
    ]);
    expect(listOfflineCodes(parts, START).revoked.map((r) => r.fingerprint)).toEqual(
      [a.fingerprint, b.fingerprint].sort(),
    );
    parts.db.close();
  });

  it('refuses bad revocation targets as values that never repeat the digits', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    expect(revokeOfflineCode(parts, { fingerprint: 'XYZ' }, { by: 'gateway', now: START })).toMatchObject({
      ok: false,
      error: 'invalid_fingerprint',
    });
    const result = revokeOfflineCode(parts, { code: '123456789012' }, { by: 'gateway', now: START });
    expect(result).toMatchObject({ ok: false, error: 'unknown_code' });
    expect(JSON.stringify(result)).not.toContain('123456789012');
    expect(() => revokeOfflineCode(parts, { fingerprint: 'a'.repeat(16) }, { by: '', now: START })).toThrow(
      TypeError,
    );
    parts.db.close();
  });

  it('an erase code rotates the key in the decision transaction: every earlier code stops verifying', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const guest = issueForLock(
      parts,
      { kind: 'permanent', start: '2026-06-10' },
      { timezone: ZONE, now: START },
    );
    const erase = issueForLock(parts, { kind: 'erase', start: START }, { timezone: ZONE, now: START });
    grant(parts, resolver, guest.code, START + HOUR);
    expect(grant(parts, resolver, erase.code, START + 2 * HOUR)).toMatchObject({ kind: 'one_time' });
    expect(offlineKeyVersion(parts)).toBe(2);
    expect(resolver.resolve(guest.code, trusted(START + 3 * HOUR), ZONE)).toBeUndefined();
    expect(resolver.resolve(erase.code, trusted(START + 3 * HOUR), ZONE)).toBeUndefined();
    const fresh = issueForLock(
      parts,
      { kind: 'permanent', start: '2026-06-10' },
      { timezone: ZONE, now: START },
    );
    expect(fresh.keyVersion).toBe(2);
    expect(fresh.code).not.toBe(guest.code);
    expect(resolver.resolve(fresh.code, trusted(START + 3 * HOUR), ZONE)).toBeDefined();
    expect(parts.audit.latest(5).find((row) => row.type === 'offline_key_rotated')?.data).toMatchObject({
      from_version: 1,
      to_version: 2,
    });
    parts.db.close();
  });

  it('an untrusted clock rebuilds anchors from the persisted floor, not the RTC reset date', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const code = issueForLock(
      parts,
      { kind: 'hourly', start: START, hours: 72 },
      { timezone: ZONE, now: START },
    );
    const reset = {
      epochMs: Date.UTC(2000, 0, 1),
      trusted: false,
      untrustedReason: 'rtc_lost_power' as const,
      floor: 0,
      highWater: 0,
    };
    expect(resolver.resolve(code.code, reset, ZONE)).toBeUndefined();
    // With a floor (the last trusted time) the code is found, to be refused as clock_untrusted.
    expect(resolver.resolve(code.code, { ...reset, floor: START + 5 * HOUR }, ZONE)).toMatchObject({
      kind: 'time_bound',
      startsAt: START,
    });
    parts.db.close();
  });

  it('keeps no digits anywhere in the database', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const codes = [
      issueForLock(parts, { kind: 'one_time', start: START }, { timezone: ZONE, now: START }),
      issueForLock(parts, { kind: 'daily', start: '2026-06-10', days: 5 }, { timezone: ZONE, now: START }),
    ];
    for (const code of codes) grant(parts, resolver, code.code, START + HOUR);
    revokeOfflineCode(
      parts,
      { code: codes[1]!.code },
      { by: 'technician', now: START + 2 * HOUR, timezone: ZONE },
    );
    parts.db.close();
    const raw = new Database(join(dir, DB_FILE), { readonly: true });
    const tables = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .pluck()
      .all() as string[];
    const dump = tables
      .map((table) => JSON.stringify(raw.prepare(`SELECT * FROM ${table}`).all()))
      .join('\n');
    raw.close();
    for (const code of codes) {
      expect(dump).not.toContain(code.code);
      expect(dump).not.toContain(code.code.slice(6));
    }
  });

  it('issues against another lock refuse to verify here', () => {
    const a = openStore(tempDir());
    const b = openStore(tempDir());
    const code = issueOfflineCode(
      b.secret,
      1,
      { kind: 'permanent', start: '2026-06-10' },
      { timezone: ZONE, now: START },
    );
    expect(createOfflineResolver(a, config).resolve(code.code, trusted(START), ZONE)).toBeUndefined();
    expect(createOfflineResolver(b, config).resolve(code.code, trusted(START), ZONE)).toBeDefined();
    a.db.close();
    b.db.close();
  });
});

describe('version 2 codes with the store', () => {
  const at = (text: string) => Date.parse(text);

  it('variants of one one_time slot are separate codes: using one never consumes another', () => {
    const dir = tempDir();
    let parts = openStore(dir);
    let resolver = createOfflineResolver(parts, config);
    const request = { version: 2, kind: 'one_time', start: START } as const;
    const [first, second] = [0, 1].map((variant) =>
      issueForLock(parts, { ...request, variant }, { timezone: ZONE, now: START }),
    );
    expect(first!.code).not.toBe(second!.code);
    expect(first!.code).toHaveLength(15);
    grant(parts, resolver, first!.code, START + HOUR);
    parts.db.close();
    parts = openStore(dir);
    resolver = createOfflineResolver(parts, config);
    expect(resolver.resolve(first!.code, trusted(START + 2 * HOUR), ZONE)).toMatchObject({ uses: 1 });
    expect(resolver.resolve(second!.code, trusted(START + 2 * HOUR), ZONE)).toMatchObject({
      kind: 'one_time',
      uses: 0,
      name: `offline:${second!.fingerprint}`,
    });
    parts.db.close();
  });

  it('a stay is activated by a first use up to 24 h after check-in, then runs to check-out', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const stay = issueForLock(
      parts,
      { version: 2, kind: 'daily', start: '2026-06-12', checkIn: '15:00', checkOut: '11:00', days: 3 },
      { timezone: ZONE, now: START },
    );
    const checkIn = at('2026-06-12T13:00:00Z');
    const checkOut = at('2026-06-15T09:00:00Z');
    // Before the first use its end is the activation deadline (check-in + 24 h).
    expect(resolver.resolve(stay.code, trusted(checkIn + HOUR), ZONE)).toMatchObject({
      kind: 'time_bound',
      startsAt: checkIn,
      endsAt: checkIn + 24 * HOUR,
      firstUsedAt: null,
    });
    // The guest arrives at 01:00 the next night.
    const arrival = at('2026-06-12T23:00:00Z');
    grant(parts, resolver, stay.code, arrival);
    expect(resolver.resolve(stay.code, trusted(checkOut - HOUR), ZONE)).toMatchObject({
      startsAt: checkIn,
      endsAt: checkOut,
      firstUsedAt: arrival,
      uses: 1,
    });
    expect(listOfflineCodes(parts, arrival).active).toMatchObject([
      { fingerprint: stay.fingerprint, kind: 'daily', startsAt: checkIn, endsAt: checkOut, uses: 1 },
    ]);
    parts.db.close();
  });

  it('revocation by fingerprint and by the 15 digits; an erase code of either version retires both', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const later = issueForLock(
      parts,
      { version: 2, kind: 'hourly', start: START + 30 * DAY, hours: 5, variant: 2 },
      { timezone: ZONE, now: START },
    );
    expect(
      revokeOfflineCode(parts, { code: later.grouped }, { by: 'technician', now: START, timezone: ZONE }),
    ).toMatchObject({ ok: true, fingerprint: later.fingerprint });
    expect(resolver.resolve(later.code, trusted(START + 30 * DAY), ZONE)).toMatchObject({ revoked: true });
    const v1 = issueForLock(
      parts,
      { kind: 'permanent', start: '2026-06-10' },
      { timezone: ZONE, now: START },
    );
    const v2 = issueForLock(
      parts,
      { version: 2, kind: 'permanent', start: START, variant: 1 },
      { timezone: ZONE, now: START },
    );
    grant(parts, resolver, v1.code, START + HOUR);
    grant(parts, resolver, v2.code, START + HOUR);
    const erase = issueForLock(
      parts,
      { version: 2, kind: 'erase', start: START },
      { timezone: ZONE, now: START },
    );
    grant(parts, resolver, erase.code, START + 2 * HOUR);
    expect(offlineKeyVersion(parts)).toBe(2);
    for (const code of [v1, v2, erase])
      expect(resolver.resolve(code.code, trusted(START + 3 * HOUR), ZONE)).toBeUndefined();
    const v2Again = issueForLock(
      parts,
      { version: 2, kind: 'permanent', start: START, variant: 1 },
      { timezone: ZONE, now: START },
    );
    expect(v2Again.keyVersion).toBe(2);
    expect(resolver.resolve(v2Again.code, trusted(START + 3 * HOUR), ZONE)).toBeDefined();
    const v1Erase = issueForLock(parts, { kind: 'erase', start: START }, { timezone: ZONE, now: START });
    grant(parts, resolver, v1Erase.code, START + 4 * HOUR);
    expect(offlineKeyVersion(parts)).toBe(3);
    expect(resolver.resolve(v2Again.code, trusted(START + 5 * HOUR), ZONE)).toBeUndefined();
    parts.db.close();
  });

  it('an activated permanent version 2 code carries no instants: it opens on an untrusted clock', () => {
    const dir = tempDir();
    const parts = openStore(dir);
    const resolver = createOfflineResolver(parts, config);
    const code = issueForLock(
      parts,
      { version: 2, kind: 'permanent', start: START },
      { timezone: ZONE, now: START },
    );
    grant(parts, resolver, code.code, START + HOUR);
    const untrusted = {
      ...trusted(START + 40 * DAY),
      trusted: false,
      untrustedReason: 'rtc_lost_power' as const,
    };
    expect(resolver.resolve(code.code, untrusted, ZONE)).toMatchObject({
      kind: 'ongoing',
      startsAt: null,
      endsAt: null,
    });
    parts.db.close();
  });
});
