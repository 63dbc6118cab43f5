import { z } from 'zod';
import { codeSpecSchema } from '../../firmware/access/code-spec.ts';
import { isValidZone } from '../../firmware/access/schedule.ts';
import { DENIAL_REASONS, MODES } from '../../firmware/access/types.ts';
import { configSchema } from '../../firmware/config.ts';
import { LOCK_STATES } from '../../firmware/lock.ts';
import {
  checkIsoInstant,
  describeZodError,
  isoInstantSchema,
  parseIsoInstant,
} from '../../firmware/validation.ts';
import { parseDurationMs } from './duration.ts';

const isoInstant = isoInstantSchema;
const duration = z.string().refine((t) => parseDurationMs(t) !== undefined, {
  message: 'must be an ISO-8601 duration such as PT10S, PT2H or P1D',
});
const keys = z
  .string()
  .regex(/^[0-9*#]+$/, 'must be keys 0-9, * and # only')
  .max(200);
const zone = z.string().refine(isValidZone, 'must be an IANA time zone such as Europe/Berlin');

export const FAULTS = [
  'relay_jam',
  'relay_ok',
  'rtc_lost',
  'power_cycle',
  'door_open',
  'door_close',
] as const;

export const OFFLINE_KINDS = ['one_time', 'hourly', 'daily', 'permanent', 'recurring', 'erase'] as const;

const expectation = z
  .object({
    lock: z.enum(LOCK_STATES),
    decision: z.enum(['granted', 'denied']),
    reason: z.enum(DENIAL_REASONS),
    code: z.string(),
    indicator: z.union([
      z.string(),
      z.object({ led: z.string().optional(), beep: z.string().optional() }).strict(),
    ]),
    event: z.object({ type: z.string() }).catchall(z.unknown()),
    no_event: z.string(),
    mode: z.enum(MODES),
    clock: z.enum(['trusted', 'untrusted']),
    lockout: z.boolean(),
    door: z.enum(['open', 'closed']),
    uses: z.object({ code: z.string(), count: z.number().int().min(0) }).strict(),
  })
  .partial()
  .strict()
  .refine((e) => Object.keys(e).length > 0, 'expect needs at least one field');

/** One schema per step type, keyed by the step's action field. */
export const STEP_SCHEMAS = {
  press: z.union([keys, z.object({ keys, pause: duration }).strict()]),
  advance: duration,
  set_time: isoInstant,
  sync_time: isoInstant,
  set_timezone: zone,
  drift: z.number().min(-1_000_000).max(1_000_000),
  fault: z.enum(FAULTS),
  add_code: codeSpecSchema,
  remove_code: z.string().min(1),
  set_mode: z.enum(MODES),
  offline_code: z
    .object({
      kind: z.enum(OFFLINE_KINDS),
      /** lockctl's forms: an instant, a local date-time (the lock's zone) or a plain date. */
      start: z
        .string()
        .refine(
          (text) => /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/.test(text) || checkIsoInstant(text).ok,
          'must be an ISO-8601 instant, a local date-time (2026-12-01T15:00) or a date (2026-12-01)',
        ),
      hours: z.number().int().optional(),
      days: z.number().int().optional(),
      days_of_week: z.array(z.string()).optional(),
      from: z.string().optional(),
      to: z.string().optional(),
      version: z.union([z.literal(1), z.literal(2)]).optional(),
      variant: z.number().int().optional(),
      check_in: z.string().optional(),
      check_out: z.string().optional(),
      weeks: z.number().int().optional(),
      press: z.boolean().default(true),
      /** Remember the digits under this label, to type them again with press_offline. */
      label: z.string().min(1).max(64).optional(),
    })
    .strict(),
  press_offline: z.string().min(1).max(64),
  expect: expectation,
} as const;

export type StepType = keyof typeof STEP_SCHEMAS;
export type Step = {
  [K in StepType]: { type: K; value: z.infer<(typeof STEP_SCHEMAS)[K]>; refused?: string; note?: string };
}[StepType];

export interface Scenario {
  file: string;
  name: string;
  device: { timezone: string; time: number; config: Record<string, unknown>; boltTravelMs: number };
  codes: Array<z.infer<typeof codeSpecSchema>>;
  steps: Step[];
}

export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    detail: string,
  ) {
    super(`${file}: ${where}: ${detail}`);
  }
}

const top = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    device: z
      .object({
        timezone: zone.default('UTC'),
        time: isoInstant.default('2026-01-05T09:00:00Z'),
        config: configSchema.partial().default({}),
        bolt_travel: duration.default('PT0S'),
      })
      .strict()
      .default({ timezone: 'UTC', time: '2026-01-05T09:00:00Z', config: {}, bolt_travel: 'PT0S' }),
    codes: z.array(codeSpecSchema).default([]),
    steps: z.array(z.record(z.string(), z.unknown())).min(1, 'a scenario needs at least one step'),
  })
  .strict();

/** Validates a parsed scenario file; errors name the file, the step number and the field. */
export function parseScenario(file: string, json: unknown): Scenario {
  const parsed = top.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.path[0] === 'steps' && typeof issue.path[1] === 'number') {
      throw new ScenarioError(file, `step ${issue.path[1] + 1}`, describeZodError(parsed.error));
    }
    throw new ScenarioError(file, 'scenario', describeZodError(parsed.error));
  }
  const value = parsed.data;
  const steps = value.steps.map((raw, index) => parseStep(file, index, raw));
  return {
    file,
    name: value.name,
    device: {
      timezone: value.device.timezone,
      time: parseIsoInstant(value.device.time)!,
      config: { ...value.device.config, timezone: value.device.timezone },
      boltTravelMs: parseDurationMs(value.device.bolt_travel)!,
    },
    codes: value.codes,
    steps,
  };
}

function parseStep(file: string, index: number, raw: Record<string, unknown>): Step {
  const where = `step ${index + 1}`;
  const { note, refused, ...rest } = raw;
  const actions = Object.keys(rest);
  if (actions.length !== 1) {
    throw new ScenarioError(
      file,
      where,
      actions.length === 0
        ? `no action; expected one of ${Object.keys(STEP_SCHEMAS).join(', ')}`
        : `has ${actions.join(' and ')}; a step does exactly one thing`,
    );
  }
  const type = actions[0] as StepType;
  // Own names only: "toString" or "constructor" must not find Object.prototype's.
  if (!Object.hasOwn(STEP_SCHEMAS, type)) {
    throw new ScenarioError(
      file,
      where,
      `unknown step ${JSON.stringify(type)}; expected one of ${Object.keys(STEP_SCHEMAS).join(', ')}`,
    );
  }
  if (note !== undefined && typeof note !== 'string')
    throw new ScenarioError(file, where, 'note must be a string');
  if (refused !== undefined && (type !== 'add_code' || typeof refused !== 'string')) {
    throw new ScenarioError(file, where, 'refused (an expected error code string) goes only with add_code');
  }
  const result = (STEP_SCHEMAS[type] as z.ZodType).safeParse(rest[type]);
  if (!result.success) throw new ScenarioError(file, where, describeZodError(result.error, type));
  return { type, value: result.data, ...(refused ? { refused } : {}), ...(note ? { note } : {}) } as Step;
}
