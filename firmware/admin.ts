import { type CodeSpec, parseCodeFields, parseCodeSpec } from './access/code-spec.ts';
import type { AuditLog } from './store/audit.ts';
import type {
  AddCodeResult,
  CodeRecord,
  CodeSource,
  CodeStore,
  CodeTiming,
  SetEnabledResult,
} from './store/codes.ts';
import type { Db } from './store/db.ts';

export type SetEnabledOutcome = { ok: true; code: CodeRecord } | Extract<SetEnabledResult, { ok: false }>;
export type RescheduleOutcome =
  | { ok: true; code: CodeRecord }
  | { ok: false; error: 'not_found' | 'invalid_code' | 'invalid_window'; message: string };

/** Local code administration shared by `lockfw codes`, the simulator and the adapters. */
export class CodeAdmin {
  constructor(
    private readonly db: Db,
    private readonly codes: CodeStore,
    private readonly audit: AuditLog,
    private readonly capacity: number,
  ) {}

  /** Validates and adds one code; the audit row carries the name and id, never the PIN. */
  add(
    input: unknown,
    by: string,
    now: number,
    source: CodeSource = 'local',
  ): AddCodeResult | { ok: false; error: 'invalid_code' | 'invalid_window'; message: string } {
    const parsed = parseCodeSpec(input);
    if (!parsed.ok) return parsed;
    return this.addSpec(parsed.spec, by, now, source);
  }

  addSpec(
    spec: CodeSpec,
    by: string,
    now: number,
    source: CodeSource = 'local',
    assigned = true,
  ): AddCodeResult {
    return this.db
      .transaction((): AddCodeResult => {
        const result = this.codes.add(spec, { now, capacity: this.capacity, source, assigned });
        if (result.ok) this.audit.append('code_added', { ...describe(result.code), by }, now);
        return result;
      })
      .immediate();
  }

  remove(id: number, by: string, now: number): CodeRecord | undefined {
    return this.db
      .transaction(() => {
        const code = this.codes.get(id);
        if (!code || !this.codes.remove(id)) return undefined;
        this.audit.append(
          'code_removed',
          { code_id: id, code_name: code.name, source: code.source, created_at: code.createdAt, by },
          now,
        );
        return code;
      })
      .immediate();
  }

  /**
   * Switches a code on or off, audited. Refusals are values that change nothing:
   * `not_found`, or `duplicate_code` when switching on a code whose PIN another
   * enabled code has (every path that makes a code usable keeps PINs unique).
   */
  setEnabled(id: number, enabled: boolean, by: string, now: number): SetEnabledOutcome {
    return this.db
      .transaction((): SetEnabledOutcome => {
        const result = this.codes.setEnabled(id, enabled, now);
        if (!result.ok) return result;
        const code = this.codes.get(id)!;
        this.audit.append(
          enabled ? 'code_enabled' : 'code_disabled',
          { code_id: id, code_name: code.name, by },
          now,
        );
        return { ok: true, code };
      })
      .immediate();
  }

  /**
   * Changes when a code opens (kind, window, weekly schedule, use limit) and keeps its PIN
   * hash, name, role and use count; audited as `code_rescheduled`. The new timing passes the
   * checks of adding a code (`invalid_window`, `invalid_code`); a refusal changes nothing.
   */
  reschedule(id: number, timing: CodeTiming, by: string, now: number): RescheduleOutcome {
    return this.db
      .transaction((): RescheduleOutcome => {
        const code = this.codes.get(id);
        if (!code) return { ok: false, error: 'not_found', message: `no code with id ${id}` };
        const checked = parseCodeFields({
          name: code.name,
          kind: timing.kind,
          role: code.role,
          ...(timing.startsAt !== null ? { starts_at: timing.startsAt } : {}),
          ...(timing.endsAt !== null ? { ends_at: timing.endsAt } : {}),
          ...(timing.schedule !== null ? { schedule: timing.schedule } : {}),
          ...(timing.maxUses !== null ? { max_uses: timing.maxUses } : {}),
          ...(code.expireAfterFirstUseMin !== null
            ? { expire_after_first_use: code.expireAfterFirstUseMin }
            : {}),
        });
        if (!checked.ok) return checked;
        const { kind, startsAt, endsAt, schedule, maxUses } = checked.spec;
        this.codes.reschedule(id, { kind, startsAt, endsAt, schedule, maxUses }, now);
        const changed = this.codes.get(id)!;
        this.audit.append(
          'code_rescheduled',
          {
            code_id: id,
            code_name: changed.name,
            kind: changed.kind,
            starts_at: changed.startsAt,
            ends_at: changed.endsAt,
            schedule: changed.schedule,
            max_uses: changed.maxUses,
            by,
          },
          now,
        );
        return { ok: true, code: changed };
      })
      .immediate();
  }

  /** Pre-installs a backup-pool code: it does not open until assigned. */
  addBackup(
    pin: string,
    by: string,
    now: number,
  ): AddCodeResult | { ok: false; error: 'invalid_code' | 'invalid_window'; message: string } {
    const count = this.codes.list().filter((code) => code.source === 'backup').length;
    const parsed = parseCodeSpec({ name: `backup-${count + 1}`, pin, kind: 'ongoing' });
    if (!parsed.ok) return parsed;
    return this.addSpec(parsed.spec, by, now, 'backup', false);
  }

  assignBackup(
    id: number,
    name: string,
    startsAt: number,
    endsAt: number,
    by: string,
    now: number,
  ): CodeRecord | undefined {
    return this.db
      .transaction(() => {
        if (!this.codes.assignBackup(id, name, startsAt, endsAt, now)) return undefined;
        this.audit.append(
          'backup_assigned',
          { code_id: id, code_name: name, starts_at: startsAt, ends_at: endsAt, by },
          now,
        );
        return this.codes.get(id);
      })
      .immediate();
  }
}

function describe(code: CodeRecord): Record<string, unknown> {
  return {
    code_id: code.id,
    code_name: code.name,
    kind: code.kind,
    role: code.role,
    starts_at: code.startsAt,
    ends_at: code.endsAt,
    schedule: code.schedule,
    max_uses: code.maxUses,
    source: code.source,
    created_at: code.createdAt,
  };
}
