import { type CodeFields, parseCodeSpec } from '../access/code-spec.ts';
import { dstGapWarning } from '../access/dst-gap.ts';
import type { AuditLog } from '../store/audit.ts';
import { type CodeStore, DUPLICATE_MESSAGE } from '../store/codes.ts';
import type { Db } from '../store/db.ts';
import type { StateStore } from '../store/state.ts';
import { keepsPin, resolveKeptPin } from './kept-pin.ts';
import type { DesiredCodes } from './messages.ts';
import { decryptPin } from './pin-crypto.ts';

export type CodeReportStatus = 'set' | 'pending' | 'error';

export interface CodeReport {
  ref: string;
  name: string | null;
  status: CodeReportStatus;
  /** Set but suspect: a weekly slot the clocks skip (docs/access-rules.md, Daylight saving). */
  warning?: string;
  error?: string;
  message?: string;
  /** On an error for a ref the lock already held: that code is now switched off. */
  previous?: 'disabled';
}

export interface ReportedCodes {
  revision: number;
  applied_at: string;
  codes: CodeReport[];
}

export interface SyncState {
  appliedRevision: number;
  lastCounter: number;
  reported: ReportedCodes | null;
}

/** (The events' ack point lives in the audit chain's anchors: firmware/store/outbox.ts.) */
export const INITIAL_SYNC: SyncState = { appliedRevision: 0, lastCounter: 0, reported: null };

export interface ApplyContext {
  db: Db;
  codes: CodeStore;
  audit: AuditLog;
  state: StateStore;
  deviceId: string;
  pinKey: Uint8Array;
  capacity: number;
  /** The lock's time zone, for the daylight-saving warnings (none without it). */
  timezone?: string;
}

export type ApplyOutcome =
  | { applied: true; report: ReportedCodes }
  | { applied: false; reason: 'stale'; appliedRevision: number };

/**
 * Applies a verified desired/codes document in one SQLite transaction: the gateway's
 * codes become exactly the document's (bad entries are reported, not applied, and a
 * code the lock held under a refused entry's ref is switched off), or, if the power
 * fails, nothing changes. Revisions at or below the applied one are ignored.
 */
export function applyDesiredCodes(ctx: ApplyContext, doc: DesiredCodes, now: number): ApplyOutcome {
  return ctx.db
    .transaction((): ApplyOutcome => {
      const sync = ctx.state.get('sync', INITIAL_SYNC);
      if (doc.revision <= sync.appliedRevision)
        return { applied: false, reason: 'stale', appliedRevision: sync.appliedRevision };
      const existing = ctx.codes.gatewayCodes();
      // The enabled PINs, read once and kept in step with every change below: the
      // duplicate check is a lookup, not a query per entry.
      const enabled = ctx.codes.enabledByHash();
      const disable = (code: { pinHash: string; id: number }) => {
        if (enabled.get(code.pinHash) === code.id) enabled.delete(code.pinHash);
      };
      const wanted = new Set(doc.codes.map((c) => c.ref));
      let removed = 0;
      for (const [ref, code] of existing) {
        if (wanted.has(ref)) continue;
        ctx.codes.remove(code.id);
        disable(code);
        removed++;
      }
      const reports: CodeReport[] = [];
      let count = ctx.codes.count();
      let disabled = 0;
      for (const entry of doc.codes) {
        const { ref, pin_enc: sealed, ...fields } = entry as Record<string, unknown> & { ref: string };
        const name = typeof fields.name === 'string' ? fields.name : null;
        const current = existing.get(ref);
        // A refused definition never leaves the old one opening: the code is switched off
        // until a later document defines it validly (or drops it).
        const fail = (error: string, message: string) => {
          if (current?.enabled) {
            ctx.codes.setEnabled(current.id, false, now);
            disable(current);
            disabled++;
          }
          reports.push({
            ref,
            name,
            status: 'error',
            error,
            message,
            ...(current ? { previous: 'disabled' as const } : {}),
          });
        };
        const succeed = (spec: CodeFields) => {
          const warning = ctx.timezone === undefined ? null : dstGapWarning(spec, ctx.timezone, now);
          reports.push({
            ref,
            name: spec.name,
            status: spec.startsAt !== null && spec.startsAt > now ? 'pending' : 'set',
            ...(warning ? { warning } : {}),
          });
        };
        if (keepsPin(fields)) {
          const kept = resolveKeptPin(ctx.codes, current, fields, sealed !== undefined);
          if (!kept.ok) {
            fail(kept.error, kept.message);
            continue;
          }
          const holder = enabled.get(kept.pinHash);
          if (kept.spec.enabled && holder !== undefined && holder !== kept.id) {
            fail('duplicate_code', DUPLICATE_MESSAGE);
            continue;
          }
          ctx.codes.replaceKeepingPin(kept.id, ref, kept.spec, now);
          disable({ pinHash: kept.pinHash, id: kept.id });
          if (kept.spec.enabled) enabled.set(kept.pinHash, kept.id);
          if (kept.adopting)
            ctx.audit.append(
              'code_adopted',
              { code_id: kept.id, code_name: kept.spec.name, ref, by: 'gateway' },
              now,
            );
          succeed(kept.spec);
          continue;
        }
        if (sealed !== undefined) {
          if (fields.pin !== undefined) {
            fail('invalid_code', 'give pin or pin_enc, not both');
            continue;
          }
          const pin =
            typeof sealed === 'string' ? decryptPin(ctx.pinKey, ctx.deviceId, ref, sealed) : undefined;
          if (pin === undefined) {
            fail('invalid_code', 'pin_enc does not decrypt for this lock and ref');
            continue;
          }
          fields.pin = pin;
        }
        const parsed = parseCodeSpec(fields);
        if (!parsed.ok) {
          fail(parsed.error, parsed.message);
          continue;
        }
        const spec = parsed.spec;
        const pinHash = ctx.codes.hash(spec.pin);
        const holder = enabled.get(pinHash);
        const clash = spec.enabled && holder !== undefined && holder !== current?.id;
        if (clash) {
          fail('duplicate_code', DUPLICATE_MESSAGE);
          continue;
        }
        if (current) {
          ctx.codes.replace(current.id, spec, now, pinHash);
          disable(current);
          if (spec.enabled) enabled.set(pinHash, current.id);
        } else {
          if (count >= ctx.capacity) {
            fail('no_space', `the lock holds ${ctx.capacity} codes, its capacity`);
            continue;
          }
          const id = ctx.codes.insertChecked(spec, pinHash, { now, source: 'gateway', ref });
          if (spec.enabled) enabled.set(pinHash, id);
          count++;
        }
        succeed(spec);
      }
      const report: ReportedCodes = {
        revision: doc.revision,
        applied_at: new Date(now).toISOString(),
        codes: reports,
      };
      ctx.state.set('sync', { ...sync, appliedRevision: doc.revision, reported: report });
      const errors = reports.filter((r) => r.status === 'error').length;
      ctx.audit.append(
        'codes_applied',
        { revision: doc.revision, codes: reports.length - errors, errors, disabled, removed, by: 'gateway' },
        now,
      );
      return { applied: true, report };
    })
    .immediate();
}

const isCount = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

/** The persisted sync state's parser (firmware/store/state-keys.ts). */
export function parseSyncState(value: unknown): SyncState | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (!isCount(v.appliedRevision) || !isCount(v.lastCounter)) return undefined;
  // Saved before migration 9 moved the ack point to audit_chain: checked, then dropped.
  if ('ackedSeq' in v && !isCount(v.ackedSeq)) return undefined;
  const reported = v.reported as Record<string, unknown> | null;
  if (reported !== null && (typeof reported !== 'object' || !Array.isArray(reported.codes))) return undefined;
  return v as unknown as SyncState;
}
