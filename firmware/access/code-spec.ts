import { z } from 'zod';
import { hasControl } from '../safe-text.ts';
import { describeZodError, isoInstantSchema, parseIsoInstant } from '../validation.ts';
import { parseClockTime } from './schedule.ts';
import { CODE_KINDS, type CodeKind, ROLES, type Role, WEEKDAYS, type WeeklySchedule } from './types.ts';

export const PIN_MIN_LENGTH = 4;
export const PIN_MAX_LENGTH = 10;

const instant = z.union([z.number().int().nonnegative(), isoInstantSchema]);

const clockTime = z
  .string()
  .refine((text) => parseClockTime(text) !== undefined, { message: 'must be HH:MM (00:00-24:00)' });

export const scheduleSchema = z
  .object({
    days: z
      .array(z.enum(WEEKDAYS, { message: `days must be among ${WEEKDAYS.join(', ')}` }))
      .min(1, 'must name at least one day'),
    from: clockTime,
    to: clockTime,
  })
  .strict()
  .refine((s) => s.from !== s.to, { message: 'from and to must differ', path: ['to'] })
  .refine((s) => s.from !== '24:00', { message: 'from must be 00:00-23:59', path: ['from'] });

/**
 * A code's name, wherever one comes in (CLI, desired/codes, gateway commands, scenarios):
 * 1-64 characters once trimmed, and no control characters (ESC, BEL, newlines, C1,
 * bidi overrides), which would drive the terminal of whoever lists the codes.
 */
export const codeNameSchema = z
  .string()
  .refine((name) => !hasControl(name), {
    message: 'must not contain control characters (ESC, BEL, newlines, C1 controls)',
  })
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters');

/** A code as a person or the gateway writes it (snake_case, ISO instants). */
export const codeSpecSchema = z
  .object({
    name: codeNameSchema,
    pin: z
      .string()
      .regex(
        new RegExp(`^\\d{${PIN_MIN_LENGTH},${PIN_MAX_LENGTH}}$`),
        `must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH} digits`,
      ),
    kind: z.enum(CODE_KINDS, { message: `must be one of ${CODE_KINDS.join(', ')}` }).default('ongoing'),
    role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }).default('standard'),
    enabled: z.boolean().default(true),
    starts_at: instant.optional(),
    ends_at: instant.optional(),
    schedule: scheduleSchema.optional(),
    max_uses: z.number().int().min(1).max(1_000_000).optional(),
    expire_after_first_use: z.number().int().min(1).max(525_600).optional(),
  })
  .strict();

export type CodeSpecInput = z.input<typeof codeSpecSchema>;

/** A code without its PIN: a desired/codes entry that keeps the PIN the lock holds (adopt, keep_pin). */
const codeFieldsSchema = codeSpecSchema.omit({ pin: true });

/** A validated code, ready for the store. */
export interface CodeSpec {
  name: string;
  pin: string;
  kind: CodeKind;
  role: Role;
  enabled: boolean;
  startsAt: number | null;
  endsAt: number | null;
  schedule: WeeklySchedule | null;
  maxUses: number | null;
  expireAfterFirstUseMin: number | null;
}

/** A validated code without its PIN (the lock keeps the PIN it holds). */
export type CodeFields = Omit<CodeSpec, 'pin'>;

export type CodeSpecError = 'invalid_code' | 'invalid_window';
export type CodeSpecResult =
  | { ok: true; spec: CodeSpec }
  | { ok: false; error: CodeSpecError; message: string };
export type CodeFieldsResult =
  | { ok: true; spec: CodeFields }
  | { ok: false; error: CodeSpecError; message: string };

export function toEpochMs(value: number | string | undefined): number | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return value;
  return parseIsoInstant(value) ?? Number.NaN;
}

/** Validates one code; the message names each bad field and never repeats the PIN. */
export function parseCodeSpec(input: unknown, where = ''): CodeSpecResult {
  const parsed = parseFields(codeSpecSchema, input, where);
  // codeSpecSchema requires the PIN, so a parse that passed has one.
  return parsed.ok ? { ok: true, spec: { ...parsed.spec, pin: parsed.pin! } } : parsed;
}

/** Validates one code that has no PIN here: every field of parseCodeSpec but `pin`, which is refused. */
export function parseCodeFields(input: unknown, where = ''): CodeFieldsResult {
  const parsed = parseFields(codeFieldsSchema, input, where);
  return parsed.ok ? { ok: true, spec: parsed.spec } : parsed;
}

function parseFields(
  schema: typeof codeSpecSchema | typeof codeFieldsSchema,
  input: unknown,
  where: string,
): { ok: true; spec: CodeFields; pin?: string } | { ok: false; error: CodeSpecError; message: string } {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const windowField = parsed.error.issues.some((issue) =>
      ['starts_at', 'ends_at', 'schedule'].includes(String(issue.path[0])),
    );
    return {
      ok: false,
      error: windowField ? 'invalid_window' : 'invalid_code',
      message: describeZodError(parsed.error, where),
    };
  }
  const value = parsed.data;
  const spec: CodeFields = {
    name: value.name,
    kind: value.kind,
    role: value.role,
    enabled: value.enabled,
    startsAt: toEpochMs(value.starts_at),
    endsAt: toEpochMs(value.ends_at),
    schedule: value.schedule ?? null,
    maxUses: value.max_uses ?? null,
    expireAfterFirstUseMin: value.expire_after_first_use ?? null,
  };
  const problem = kindProblem(spec);
  if (problem)
    return {
      ok: false,
      error: problem.error,
      message: where ? `${where}: ${problem.message}` : problem.message,
    };
  return { ok: true, spec, pin: (value as { pin?: string }).pin };
}

function kindProblem(spec: CodeFields): { error: CodeSpecError; message: string } | undefined {
  const window = (message: string) => ({ error: 'invalid_window' as const, message });
  if (spec.startsAt !== null && spec.endsAt !== null && spec.endsAt <= spec.startsAt) {
    return window('ends_at must be later than starts_at');
  }
  switch (spec.kind) {
    case 'ongoing':
      if (spec.startsAt !== null || spec.endsAt !== null)
        return window('an ongoing code has no window; use kind time_bound');
      if (spec.schedule) return window('schedule belongs to kind recurring');
      return undefined;
    case 'time_bound':
      if (spec.startsAt === null || spec.endsAt === null)
        return window('time_bound needs both starts_at and ends_at');
      if (spec.schedule) return window('schedule belongs to kind recurring');
      return undefined;
    case 'one_time':
      if (spec.schedule) return window('schedule belongs to kind recurring');
      if (spec.maxUses !== null)
        return { error: 'invalid_code', message: 'max_uses does not combine with one_time (it opens once)' };
      return undefined;
    case 'recurring':
      if (!spec.schedule) return window('recurring needs a schedule (days, from, to)');
      return undefined;
  }
}
