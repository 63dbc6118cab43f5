import {
  deriveOfflineKey,
  deriveOfflineKeyV2,
  FINGERPRINT_PATTERN,
  locateOfflineCode,
  type OfflineKey,
  type VerifiedOfflineCode,
  v2CodeLength,
  verifyOfflineCode,
} from './access/offline.ts';
import {
  type OfflineWindow,
  offlineCodeName,
  offlineCredential,
  offlineWindow,
} from './access/offline-credential.ts';
import {
  type IssuedOfflineCode,
  type IssueOptions,
  issueOfflineCode,
  type OfflineRequest,
} from './access/offline-issue.ts';
import type { Credential } from './access/types.ts';
import type { ClockReading } from './clock.ts';
import type { FirmwareConfig } from './config.ts';
import type { StoreParts } from './firmware.ts';
import type { OfflineResolver } from './lock-manager.ts';
import type { Db } from './store/db.ts';
import { type OfflineCodeRow, type OfflineRevocation, OfflineStore } from './store/offline.ts';

/**
 * The offline-code path of the access decision: verify an entry of the offline length
 * (one HMAC), look its fingerprint up, and hand decide() a credential; on a grant,
 * record single use / activation / key rotation inside the decision's transaction.
 * Also the calls the adapters (MQTT, serial console, scenario runner) make.
 */

const PRUNE_EVERY_MS = 3_600_000;
/** Offline windows remembered (the codes typed lately); the map starts again when full. */
const WINDOW_CACHE_SIZE = 256;
/** The state key TrustedClock persists its record under (firmware/clock.ts). */

const stores = new WeakMap<Db, OfflineStore>();

/** One OfflineStore (prepared statements) per open database. */
export function offlineStore(db: Db): OfflineStore {
  let store = stores.get(db);
  if (!store) {
    store = new OfflineStore(db);
    stores.set(db, store);
  }
  return store;
}

interface Resolved {
  entry: string;
  code: VerifiedOfflineCode;
  window: OfflineWindow;
  trusted: boolean;
}

class OfflinePath implements OfflineResolver {
  private readonly store: OfflineStore;
  private key: OfflineKey | undefined;
  private keyV2: OfflineKey | undefined;
  private last: Resolved | undefined;
  private lastPrune = Number.NEGATIVE_INFINITY;
  private timezone: string;
  private readonly windows = new Map<string, OfflineWindow>();

  constructor(
    private readonly parts: StoreParts,
    private readonly config: FirmwareConfig,
  ) {
    this.store = offlineStore(parts.db);
    this.timezone = config.timezone;
  }

  resolve(entry: string, reading: ClockReading, timezone: string): Credential | undefined {
    this.last = undefined;
    this.timezone = timezone;
    const key = this.currentKey(entry.length);
    const code = verifyOfflineCode(key, entry, this.referenceTime(reading), timezone);
    if (!code) return undefined;
    const window = this.windowOf(code, timezone);
    const row = this.store.get(key.version, code.fingerprint);
    this.last = { entry, code, window, trusted: reading.trusted };
    return offlineCredential(code, window, {
      activatedAt: row?.firstUsedAt ?? null,
      uses: row?.uses ?? 0,
      revoked: this.store.isRevoked(key.version, code.fingerprint),
    });
  }

  recordGrant(entry: string, _credential: Credential, at: number): void {
    const resolved = this.last?.entry === entry ? this.last : this.reverify(entry, at);
    this.last = undefined;
    if (!resolved) throw new Error('recordGrant: the entry is not a verified offline code');
    const { code, window } = resolved;
    if (code.kind === 'erase') {
      const { from, to } = this.store.rotateKey(at);
      this.parts.audit.append(
        'offline_key_rotated',
        { from_version: from, to_version: to, code_name: offlineCodeName(code.fingerprint) },
        at,
      );
      return;
    }
    this.store.recordUse(
      code.keyVersion,
      code.fingerprint,
      code.kind,
      { startsAt: window.validFrom, endsAt: window.validUntil },
      at,
    );
    // Pruning trusts `at`: a wrong clock must not delete the row that keeps a one_time code used.
    if (resolved.trusted && at - this.lastPrune >= PRUNE_EVERY_MS) {
      this.store.prune(at);
      this.lastPrune = at;
    }
  }

  /**
   * offlineWindow, remembered: a pure function of the code's fields and the zone whose
   * zone arithmetic (luxon) costs more than the rest of an offline decision.
   */
  private windowOf(code: VerifiedOfflineCode, zone: string): OfflineWindow {
    const key = `${code.version ?? 1}:${code.kind}:${code.param}:${code.anchor}:${zone}`;
    let window = this.windows.get(key);
    if (!window) {
      if (this.windows.size >= WINDOW_CACHE_SIZE) this.windows.clear();
      window = offlineWindow(code, zone);
      this.windows.set(key, window);
    }
    return window;
  }

  private reverify(entry: string, at: number): Resolved | undefined {
    const code = verifyOfflineCode(this.currentKey(entry.length), entry, at, this.timezone);
    return code ? { entry, code, window: offlineWindow(code, this.timezone), trusted: false } : undefined;
  }

  /**
   * The time anchors are rebuilt from. With an untrusted clock, the persisted floor (the
   * last trusted time) rather than an RTC that may read 2000-01-01: a genuine code then
   * still verifies, and is refused as clock_untrusted, not as a wrong guess.
   */
  private referenceTime(reading: ClockReading): number {
    if (reading.trusted) return reading.epochMs;
    return reading.floor > 0 ? reading.floor : reading.epochMs;
  }

  /** The key for an entry of `length` digits: version 2 codes are 3 digits longer. */
  private currentKey(length: number): OfflineKey {
    const version = this.store.keyVersion();
    if (length === v2CodeLength(this.config.offlineCodeLength)) {
      if (this.keyV2?.version !== version)
        this.keyV2 = deriveOfflineKeyV2(this.parts.secret, version, this.config.offlineCodeLength);
      return this.keyV2;
    }
    if (this.key?.version !== version)
      this.key = deriveOfflineKey(this.parts.secret, version, this.config.offlineCodeLength);
    return this.key;
  }
}

/** The offline resolver the lock manager plugs into its decision (FirmwareOptions.offline). */
export function createOfflineResolver(parts: StoreParts, config: FirmwareConfig): OfflineResolver {
  return new OfflinePath(parts, config);
}

/** The key version codes for this lock must be issued under now. */
export function offlineKeyVersion(parts: Pick<StoreParts, 'db'>): number {
  return offlineStore(parts.db).keyVersion();
}

/**
 * Issues a code for this lock with its own secret and current key version: the
 * scenario runner's `offline_code` step, and the simulator. Throws OfflineRequestError
 * for a request that cannot be issued.
 */
export function issueForLock(
  parts: Pick<StoreParts, 'db' | 'secret'>,
  request: OfflineRequest,
  options: IssueOptions = {},
): IssuedOfflineCode {
  return issueOfflineCode(parts.secret, offlineKeyVersion(parts), request, options);
}

export interface OfflineListing {
  keyVersion: number;
  /** Codes used or activated whose window has not ended (permanent ones always). */
  active: OfflineCodeRow[];
  revoked: OfflineRevocation[];
}

/** For technicians and the gateway: fingerprints and windows, never digits. */
export function listOfflineCodes(parts: Pick<StoreParts, 'db'>, now: number): OfflineListing {
  const store = offlineStore(parts.db);
  const keyVersion = store.keyVersion();
  return { keyVersion, active: store.listActive(keyVersion, now), revoked: store.listRevoked(keyVersion) };
}

export type RevokeTarget = { fingerprint: string } | { code: string };

export interface RevokeOptions {
  /** Who asked: "gateway", "technician", ... (audited). */
  by: string;
  now: number;
  /** For a target given by its digits: the lock's time zone and code length. */
  timezone?: string;
  length?: number;
  /** When the code ends, if known: the revocation row may be pruned after it. */
  expiresAt?: number | null;
}

export type RevokeResult =
  | { ok: true; fingerprint: string; keyVersion: number; alreadyRevoked: boolean }
  | { ok: false; error: 'invalid_fingerprint' | 'unknown_code'; message: string };

/**
 * Revokes one offline code under the current key version, by fingerprint (what the
 * gateway keeps) or by its digits (a technician at the lock). Audited. Refusals are
 * values and never repeat the digits.
 */
export function revokeOfflineCode(
  parts: Pick<StoreParts, 'db' | 'secret' | 'audit'>,
  target: RevokeTarget,
  options: RevokeOptions,
): RevokeResult {
  if (typeof options.by !== 'string' || options.by.length === 0)
    throw new TypeError('options.by must be a non-empty string');
  if (!Number.isFinite(options.now)) throw new RangeError('options.now must be epoch ms');
  const store = offlineStore(parts.db);
  const keyVersion = store.keyVersion();
  let fingerprint: string;
  if ('fingerprint' in target) {
    if (typeof target.fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(target.fingerprint)) {
      return {
        ok: false,
        error: 'invalid_fingerprint',
        message: 'fingerprint must be 16 lowercase hex digits',
      };
    }
    fingerprint = target.fingerprint;
  } else {
    const digits = String(target.code).replace(/[-\s]/g, '');
    const length = options.length ?? 12;
    // A version 2 code is three digits longer than the lock's version 1 length.
    const key =
      digits.length === v2CodeLength(length)
        ? deriveOfflineKeyV2(parts.secret, keyVersion, length)
        : deriveOfflineKey(parts.secret, keyVersion, length);
    const found = locateOfflineCode(key, digits, options.now, options.timezone ?? 'UTC');
    if (!found) {
      return {
        ok: false,
        error: 'unknown_code',
        message: `not an offline code of this lock under key version ${keyVersion}`,
      };
    }
    fingerprint = found.fingerprint;
  }
  const added = parts.db
    .transaction(() => {
      const fresh = store.revoke(keyVersion, fingerprint, options.now, options.by, options.expiresAt ?? null);
      if (fresh) {
        parts.audit.append(
          'offline_revoked',
          { code_name: offlineCodeName(fingerprint), key_version: keyVersion, by: options.by },
          options.now,
        );
      }
      return fresh;
    })
    .immediate();
  return { ok: true, fingerprint, keyVersion, alreadyRevoked: !added };
}
