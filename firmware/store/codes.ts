import { createHmac } from 'node:crypto';
import type { CodeFields, CodeSpec } from '../access/code-spec.ts';
import { countsUses } from '../access/code-status.ts';
import type { CodeKind, Credential, Role, WeeklySchedule } from '../access/types.ts';
import type { Db } from './db.ts';

export type CodeSource = 'local' | 'gateway' | 'backup';

/** A stored code as the lock knows it: never the PIN, only its keyed hash. */
export interface CodeRecord extends Credential {
  pinLength: number;
  source: CodeSource;
  /** The gateway's id for a code it manages (desired/codes), else null. */
  ref: string | null;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

export type AddCodeError = 'duplicate_code' | 'no_space';
/** When a code opens: what a reschedule changes. */
export type CodeTiming = Pick<CodeSpec, 'kind' | 'startsAt' | 'endsAt' | 'schedule' | 'maxUses'>;
export type SetEnabledResult =
  | { ok: true }
  | { ok: false; error: 'not_found' | 'duplicate_code'; message: string };

/** The one wording of the duplicate-PIN refusal, whichever path makes a code usable. */
export const DUPLICATE_MESSAGE = 'an enabled code with the same PIN exists';
export type AddCodeResult =
  | { ok: true; code: CodeRecord }
  | { ok: false; error: AddCodeError; message: string };

interface CodeRow {
  id: number;
  name: string;
  pin_length: number;
  kind: string;
  role: string;
  enabled: number;
  starts_at: number | null;
  ends_at: number | null;
  schedule: string | null;
  max_uses: number | null;
  expire_after_first_use_min: number | null;
  uses: number;
  first_used_at: number | null;
  last_used_at: number | null;
  created_at: number;
  updated_at: number | null;
  source: string;
  backup_assigned: number;
  ref: string | null;
}

const COLUMNS = `id, name, pin_length, kind, role, enabled, starts_at, ends_at, schedule, max_uses,
  expire_after_first_use_min, uses, first_used_at, last_used_at, created_at, updated_at, source, backup_assigned, ref`;

function fromRow(row: CodeRow): CodeRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as CodeKind,
    role: row.role as Role,
    enabled: row.enabled === 1,
    revoked: false,
    assigned: row.backup_assigned === 1,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    schedule: row.schedule ? (JSON.parse(row.schedule) as WeeklySchedule) : null,
    maxUses: row.max_uses,
    expireAfterFirstUseMin: row.expire_after_first_use_min,
    uses: row.uses,
    firstUsedAt: row.first_used_at,
    lastUsedAt: row.last_used_at,
    pinLength: row.pin_length,
    source: row.source as CodeSource,
    ref: row.ref,
    createdAt: row.created_at,
    updatedAt: row.updated_at ?? row.created_at,
  };
}

/** A spec as the named parameters of the codes table's columns. */
function specColumns(spec: CodeSpec, pinHash: string) {
  return {
    name: spec.name,
    pinHash,
    pinLength: spec.pin.length,
    kind: spec.kind,
    role: spec.role,
    enabled: spec.enabled ? 1 : 0,
    startsAt: spec.startsAt,
    endsAt: spec.endsAt,
    schedule: spec.schedule ? JSON.stringify(spec.schedule) : null,
    maxUses: spec.maxUses,
    expireAfterFirstUseMin: spec.expireAfterFirstUseMin,
  };
}

/** A code's uses as the audit log tells them: its granted decisions. */
interface Usage {
  uses: number;
  firstUsedAt: number | null;
  lastUsedAt: number | null;
}

/**
 * Every granted decision on a stored code (offline codes are counted in offline_codes), by
 * code id. A removed code's id is reused (docs/protocol.md), so a grant counts for a code
 * only from its created_at on.
 */
const GRANTS_SQL = `SELECT json_extract(data, '$.code_id') AS code_id, at FROM audit
  WHERE type = 'decision' AND json_extract(data, '$.outcome') = 'granted' AND json_extract(data, '$.kind') != 'offline'`;

/**
 * A code without a limit writes no use count on a grant (one page less in the decision's
 * commit; docs/reliability.md): its uses, first and last use are read from the audit log.
 * Counted codes keep the count committed with the grant.
 */
function withUsage(record: CodeRecord, usage: Usage | undefined): CodeRecord {
  if (countsUses(record)) return record;
  return {
    ...record,
    uses: usage?.uses ?? 0,
    firstUsedAt: usage?.firstUsedAt ?? null,
    lastUsedAt: usage?.lastUsedAt ?? null,
  };
}

/** Keyed hash of a PIN: HMAC-SHA256 under the device secret, hex. */
export function hashPin(secret: Uint8Array, pin: string): string {
  return createHmac('sha256', secret).update(pin).digest('hex');
}

/** The stored codes. Every method is one statement or one transaction. */
export class CodeStore {
  private readonly byHash;
  private readonly byId;
  private readonly byIdWithHash;
  private readonly setEnabledStmt;
  private readonly all;
  private readonly insert;
  private readonly useStmt;
  private readonly enabledHashCount;
  private readonly countStmt;
  private readonly removeStmt;
  private readonly replaceStmt;
  private readonly enabledIdsStmt;
  private readonly gatewayStmt;
  private readonly grantsStmt;
  private readonly grantsOfStmt;
  private readonly materializeStmt;

  constructor(
    private readonly db: Db,
    private readonly secret: Uint8Array,
  ) {
    // Every row with the hash (one, nearly always), the pick made in findByPin: an ORDER BY
    // here costs SQLite a sorter on each keypad lookup.
    this.byHash = db.prepare<[string], CodeRow>(`SELECT ${COLUMNS} FROM codes WHERE pin_hash = ?`);
    this.byId = db.prepare<[number], CodeRow>(`SELECT ${COLUMNS} FROM codes WHERE id = ?`);
    this.byIdWithHash = db.prepare<[number], { pin_hash: string }>('SELECT pin_hash FROM codes WHERE id = ?');
    this.setEnabledStmt = db.prepare<[number, number, number]>(
      'UPDATE codes SET enabled = ?, updated_at = ? WHERE id = ?',
    );
    this.all = db.prepare<[], CodeRow>(`SELECT ${COLUMNS} FROM codes ORDER BY id`);
    this.insert = db.prepare(
      `INSERT INTO codes (name, pin_hash, pin_length, kind, role, enabled, starts_at, ends_at, schedule, max_uses,
         expire_after_first_use_min, created_at, updated_at, source, backup_assigned, ref)
       VALUES (@name, @pinHash, @pinLength, @kind, @role, @enabled, @startsAt, @endsAt, @schedule, @maxUses,
         @expireAfterFirstUseMin, @now, @now, @source, @assigned, @ref)`,
    );
    this.useStmt = db.prepare<[number, number, number]>(
      'UPDATE codes SET uses = uses + 1, first_used_at = COALESCE(first_used_at, ?), last_used_at = ? WHERE id = ?',
    );
    this.enabledHashCount = db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM codes WHERE pin_hash = ? AND enabled = 1',
    );
    this.countStmt = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM codes');
    this.removeStmt = db.prepare<[number]>('DELETE FROM codes WHERE id = ?');
    this.replaceStmt = db.prepare(
      `UPDATE codes SET
         uses = CASE WHEN pin_hash = @pinHash AND kind = @kind THEN uses ELSE 0 END,
         first_used_at = CASE WHEN pin_hash = @pinHash AND kind = @kind THEN first_used_at ELSE NULL END,
         name = @name, pin_hash = @pinHash, pin_length = @pinLength, kind = @kind, role = @role, enabled = @enabled,
         starts_at = @startsAt, ends_at = @endsAt, schedule = @schedule, max_uses = @maxUses,
         expire_after_first_use_min = @expireAfterFirstUseMin, updated_at = @now
       WHERE id = @id`,
    );
    this.enabledIdsStmt = db.prepare<[string], { id: number }>(
      'SELECT id FROM codes WHERE pin_hash = ? AND enabled = 1',
    );
    this.grantsStmt = db.prepare<[], { code_id: number; at: number }>(GRANTS_SQL);
    this.grantsOfStmt = db.prepare<[number], { code_id: number; at: number }>(
      `${GRANTS_SQL} AND json_extract(data, '$.code_id') = ?`,
    );
    this.materializeStmt = db.prepare<[number, number | null, number | null, number]>(
      'UPDATE codes SET uses = ?, first_used_at = ?, last_used_at = ? WHERE id = ?',
    );
    this.gatewayStmt = db.prepare<[], CodeRow & { pin_hash: string }>(
      `SELECT ${COLUMNS}, pin_hash FROM codes WHERE source = 'gateway'`,
    );
  }

  hash(pin: string): string {
    return hashPin(this.secret, pin);
  }

  /**
   * Adds a code unless an enabled code has the same PIN (`duplicate_code`) or the
   * store holds `capacity` codes already (`no_space`). Refusals change nothing.
   */
  add(
    spec: CodeSpec,
    options: { now: number; capacity: number; source?: CodeSource; assigned?: boolean; ref?: string | null },
  ): AddCodeResult {
    const pinHash = this.hash(spec.pin);
    return this.db
      .transaction((): AddCodeResult => {
        if (this.enabledHashCount.get(pinHash)!.n > 0) {
          return { ok: false, error: 'duplicate_code', message: DUPLICATE_MESSAGE };
        }
        if (this.count() >= options.capacity) {
          return {
            ok: false,
            error: 'no_space',
            message: `the lock holds ${options.capacity} codes, its capacity`,
          };
        }
        const info = this.insert.run({
          ...specColumns(spec, pinHash),
          now: options.now,
          source: options.source ?? 'local',
          assigned: (options.assigned ?? true) ? 1 : 0,
          ref: options.ref ?? null,
        });
        // A new code has no uses yet: no audit read.
        return {
          ok: true,
          code: withUsage(fromRow(this.byId.get(Number(info.lastInsertRowid))!), undefined),
        };
      })
      .immediate();
  }

  /** Usage from the audit log of the codes given, by id (grants from each one's created_at on). */
  private usage(
    records: CodeRecord[],
    grants: Iterable<{ code_id: number; at: number }>,
  ): Map<number, Usage> {
    const uncounted = new Map(records.filter((r) => !countsUses(r)).map((r) => [r.id, r.createdAt]));
    const usage = new Map<number, Usage>();
    if (uncounted.size === 0) return usage;
    for (const { code_id: id, at } of grants) {
      const since = uncounted.get(id);
      if (since === undefined || at < since) continue;
      const u = usage.get(id);
      if (!u) usage.set(id, { uses: 1, firstUsedAt: at, lastUsedAt: at });
      else {
        u.uses++;
        u.firstUsedAt = Math.min(u.firstUsedAt!, at);
        u.lastUsedAt = Math.max(u.lastUsedAt!, at);
      }
    }
    return usage;
  }

  /**
   * The code a PIN names: an enabled, assigned one if there is one. The keypad's lookup:
   * `uses` is the stored count, kept only for counted codes (countsUses); get and list
   * give every code's uses.
   */
  findByPin(pin: string): CodeRecord | undefined {
    let best: CodeRow | undefined;
    // The enabled code first (one at most: migration 7), then an assigned one, then the oldest.
    for (const row of this.byHash.all(this.hash(pin))) {
      if (
        !best ||
        row.enabled > best.enabled ||
        (row.enabled === best.enabled &&
          (row.backup_assigned > best.backup_assigned ||
            (row.backup_assigned === best.backup_assigned && row.id < best.id)))
      )
        best = row;
    }
    return best ? fromRow(best) : undefined;
  }

  get(id: number): CodeRecord | undefined {
    const row = this.byId.get(id);
    if (!row) return undefined;
    const record = fromRow(row);
    if (countsUses(record)) return record;
    return withUsage(record, this.usage([record], this.grantsOfStmt.iterate(id)).get(id));
  }

  list(): CodeRecord[] {
    const records = this.all.all().map(fromRow);
    if (records.every(countsUses)) return records;
    const usage = this.usage(records, this.grantsStmt.iterate());
    return records.map((record) => withUsage(record, usage.get(record.id)));
  }

  count(): number {
    return this.countStmt.get()!.n;
  }

  remove(id: number): boolean {
    return this.removeStmt.run(id).changes === 1;
  }

  /**
   * Switches a code on or off. Switching on is refused (`duplicate_code`) while another
   * enabled code has the same PIN: two usable codes must never share one, or the PIN
   * would open with whichever the lookup picks (a guest's PIN as a master's).
   */
  setEnabled(id: number, enabled: boolean, now: number): SetEnabledResult {
    return this.db
      .transaction((): SetEnabledResult => {
        const row = this.byIdWithHash.get(id);
        if (!row) return { ok: false, error: 'not_found', message: `no code with id ${id}` };
        if (enabled && this.enabledIdsWithHash(row.pin_hash).some((other) => other !== id))
          return { ok: false, error: 'duplicate_code', message: DUPLICATE_MESSAGE };
        this.setEnabledStmt.run(enabled ? 1 : 0, now, id);
        return { ok: true };
      })
      .immediate();
  }

  /** Hands out a backup-pool code: it opens for `name` within the window from now on. */
  assignBackup(id: number, name: string, startsAt: number, endsAt: number, now: number): boolean {
    const result = this.db
      .prepare(
        `UPDATE codes SET name = ?, kind = 'time_bound', starts_at = ?, ends_at = ?, backup_assigned = 1, updated_at = ?
         WHERE id = ? AND source = 'backup' AND backup_assigned = 0`,
      )
      .run(name, startsAt, endsAt, now, id);
    return result.changes === 1;
  }

  /** The gateway-managed codes by their gateway ref, with PIN hashes (desired/codes apply). */
  gatewayCodes(): Map<string, CodeRecord & { pinHash: string }> {
    const rows = this.gatewayStmt.all();
    return new Map(rows.map((row) => [row.ref!, { ...fromRow(row), pinHash: row.pin_hash }]));
  }

  /**
   * Changes when a code opens, in place: the same id, PIN hash, name, role and use count, so a
   * new schedule never reopens a used-up code. Checks are the caller's (CodeAdmin.reschedule).
   */
  reschedule(id: number, timing: CodeTiming, now: number): boolean {
    this.startCounting(id, {
      ...timing,
      expireAfterFirstUseMin: this.byId.get(id)?.expire_after_first_use_min ?? null,
    });
    const result = this.db
      .prepare(
        `UPDATE codes SET kind = @kind, starts_at = @startsAt, ends_at = @endsAt, schedule = @schedule,
           max_uses = @maxUses, updated_at = @now WHERE id = @id`,
      )
      .run({ ...timing, schedule: timing.schedule ? JSON.stringify(timing.schedule) : null, now, id });
    return result.changes === 1;
  }

  /**
   * Rewrites a code in place with a new spec (same id). Use counts are kept when the PIN
   * and kind stay the same, and start again otherwise. Duplicate checks are the caller's.
   */
  replace(id: number, spec: CodeSpec, now: number, pinHash: string = this.hash(spec.pin)): void {
    this.startCounting(id, spec);
    this.replaceStmt.run({ id, ...specColumns(spec, pinHash), now });
  }

  /** A code's PIN hash, for an entry that keeps the PIN the lock holds (desired/codes adopt, keep_pin). */
  pinHashOf(id: number): string | undefined {
    return this.byIdWithHash.get(id)?.pin_hash;
  }

  /**
   * Rewrites a code in place as the gateway code `ref`, keeping its PIN hash (the gateway
   * does not know the PIN): a local code adopted by the gateway, or a gateway code declared
   * again without a PIN. Use counts are kept while the kind stays the same. Duplicate checks
   * are the caller's.
   */
  replaceKeepingPin(id: number, ref: string, fields: CodeFields, now: number): void {
    this.startCounting(id, fields);
    this.db
      .prepare(
        `UPDATE codes SET
           uses = CASE WHEN kind = @kind THEN uses ELSE 0 END,
           first_used_at = CASE WHEN kind = @kind THEN first_used_at ELSE NULL END,
           name = @name, kind = @kind, role = @role, enabled = @enabled, starts_at = @startsAt, ends_at = @endsAt,
           schedule = @schedule, max_uses = @maxUses, expire_after_first_use_min = @expireAfterFirstUseMin,
           updated_at = @now, source = 'gateway', ref = @ref
         WHERE id = @id`,
      )
      .run({
        id,
        ref,
        now,
        name: fields.name,
        kind: fields.kind,
        role: fields.role,
        enabled: fields.enabled ? 1 : 0,
        startsAt: fields.startsAt,
        endsAt: fields.endsAt,
        schedule: fields.schedule ? JSON.stringify(fields.schedule) : null,
        maxUses: fields.maxUses,
        expireAfterFirstUseMin: fields.expireAfterFirstUseMin,
      });
  }

  /**
   * Inserts without the duplicate and capacity checks, for a caller that has made them
   * for a whole batch (desired/codes apply). Returns the new id.
   */
  insertChecked(
    spec: CodeSpec,
    pinHash: string,
    options: { now: number; source: CodeSource; ref: string | null },
  ): number {
    const info = this.insert.run({
      ...specColumns(spec, pinHash),
      now: options.now,
      source: options.source,
      assigned: 1,
      ref: options.ref,
    });
    return Number(info.lastInsertRowid);
  }

  /** Every enabled code's id by PIN hash (one each: migration 7's index), for a batch's checks. */
  enabledByHash(): Map<string, number> {
    const rows = this.db.prepare<[], { pin_hash: string; id: number }>(
      'SELECT pin_hash, id FROM codes WHERE enabled = 1',
    );
    return new Map(rows.all().map((row) => [row.pin_hash, row.id]));
  }

  /** Ids of enabled codes with this PIN hash. */
  enabledIdsWithHash(pinHash: string): number[] {
    return this.enabledIdsStmt.all(pinHash).map((row) => row.id);
  }

  /**
   * A code without a limit that is about to get one (a rewrite that keeps its count)
   * starts from the uses the audit log shows, so a new limit never reopens what was used.
   */
  private startCounting(id: number, next: Parameters<typeof countsUses>[0]): void {
    const row = this.byId.get(id);
    if (!row || !countsUses(next)) return;
    const record = fromRow(row);
    if (countsUses(record)) return;
    const usage = withUsage(record, this.usage([record], this.grantsOfStmt.iterate(id)).get(id));
    // A store from before this rule still holds the uses counted then: the larger of the two
    // is the better floor once retention has pruned old decision rows.
    this.materializeStmt.run(
      Math.max(usage.uses, row.uses),
      row.first_used_at === null || usage.firstUsedAt === null
        ? (row.first_used_at ?? usage.firstUsedAt)
        : Math.min(row.first_used_at, usage.firstUsedAt),
      Math.max(row.last_used_at ?? 0, usage.lastUsedAt ?? 0) || null,
      id,
    );
  }

  /** Counts a grant of a counted code (countsUses). Runs inside the caller's transaction, before the relay moves. */
  recordUse(id: number, at: number): void {
    this.useStmt.run(at, at, id);
  }
}
