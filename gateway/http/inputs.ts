import { z } from 'zod';
import { PIN_MAX_LENGTH, PIN_MIN_LENGTH } from '../../firmware/access/code-spec.ts';
import { SeamInputError } from '../seam/errors.ts';

/**
 * Request bodies, checked before anything is read or changed. Every object is strict:
 * a Seam parameter this gateway does not implement is a 400 naming it, never ignored.
 */
const uuid = z.uuid({ message: 'must be a UUID' });
const instant = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T15:00:00Z',
});
const limit = z.number().int().min(1).max(10_000);

export const deviceListInput = z.strictObject({
  device_ids: z.array(uuid).optional(),
  device_type: z.string().optional(),
  device_types: z.array(z.string()).optional(),
});
export const deviceGetInput = z.strictObject({ device_id: uuid.optional(), name: z.string().optional() });
export const lockCommandInput = z.strictObject({ device_id: uuid, sync: z.boolean().optional() });
export const keypadEntryInput = z.strictObject({
  device_id: uuid,
  code: z.string().regex(/^\d{4,19}$/, 'must be 4-19 digits'),
});
export const actionAttemptGetInput = z.strictObject({ action_attempt_id: uuid });
export const actionAttemptListInput = z.strictObject({
  action_attempt_ids: z.array(uuid).optional(),
  device_id: uuid.optional(),
});

const codeFields = {
  name: z.string().optional(),
  code: z.string().optional(),
  starts_at: instant.optional(),
  ends_at: instant.optional(),
  is_one_time_use: z.boolean().optional(),
  allow_external_modification: z.boolean().optional(),
  is_external_modification_allowed: z.boolean().optional(),
  prefer_native_scheduling: z
    .literal(true, { message: 'only true: the lock always schedules time-bound codes itself' })
    .optional(),
  attempt_for_offline_device: z
    .literal(true, {
      message: 'only true: a change waits in the retained desired document until the lock is online',
    })
    .optional(),
};
export const accessCodeCreateInput = z.strictObject({
  device_id: uuid,
  ...codeFields,
  preferred_code_length: z
    .number()
    .int()
    .min(PIN_MIN_LENGTH, `must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH}`)
    .max(PIN_MAX_LENGTH, `must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH}`)
    .optional(),
  use_backup_access_code_pool: z.boolean().optional(),
  is_offline_access_code: z.boolean().optional(),
  max_time_rounding: z.enum(['1hour', '1day', '1h', '1d']).optional(),
});
export const pullBackupInput = z.strictObject({ access_code_id: uuid });
export const createMultipleInput = z.strictObject({
  device_ids: z.array(uuid).min(1, 'must name at least one device'),
  behavior_when_code_cannot_be_shared: z.enum(['throw', 'create_random_code']).optional(),
  name: codeFields.name,
  code: codeFields.code,
  starts_at: codeFields.starts_at,
  ends_at: codeFields.ends_at,
  allow_external_modification: codeFields.allow_external_modification,
  is_external_modification_allowed: codeFields.is_external_modification_allowed,
  prefer_native_scheduling: codeFields.prefer_native_scheduling,
  attempt_for_offline_device: codeFields.attempt_for_offline_device,
  preferred_code_length: z
    .number()
    .int()
    .min(PIN_MIN_LENGTH, `must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH}`)
    .max(PIN_MAX_LENGTH, `must be ${PIN_MIN_LENGTH} to ${PIN_MAX_LENGTH}`)
    .optional(),
});
export const generateCodeInput = z.strictObject({ device_id: uuid });
export const accessCodeUpdateInput = z.strictObject({
  access_code_id: uuid,
  device_id: uuid.optional(),
  type: z.enum(['ongoing', 'time_bound']).optional(),
  ...codeFields,
});
export const accessCodeGetInput = z.strictObject({
  access_code_id: uuid.optional(),
  device_id: uuid.optional(),
  code: z.string().optional(),
});
export const accessCodeListInput = z.strictObject({
  device_id: uuid.optional(),
  access_code_ids: z.array(uuid).optional(),
});
export const unmanagedListInput = z.strictObject({ device_id: uuid });
export const unmanagedGetInput = z.strictObject({ access_code_id: uuid, device_id: uuid.optional() });
export const unmanagedDeleteInput = z.strictObject({ access_code_id: uuid, sync: z.boolean().optional() });
export const unmanagedConvertInput = z.strictObject({
  access_code_id: uuid,
  allow_external_modification: z.boolean().optional(),
  is_external_modification_allowed: z.boolean().optional(),
  force: z.boolean().optional(),
  sync: z.boolean().optional(),
});
export const unmanagedUpdateInput = z.strictObject({
  access_code_id: uuid,
  is_managed: z.boolean(),
  allow_external_modification: z.boolean().optional(),
  is_external_modification_allowed: z.boolean().optional(),
  force: z.boolean().optional(),
});
export const accessCodeDeleteInput = z.strictObject({
  access_code_id: uuid,
  device_id: uuid.optional(),
  sync: z.boolean().optional(),
});
export const eventListInput = z.strictObject({
  device_id: uuid.optional(),
  device_ids: z.array(uuid).optional(),
  access_code_id: uuid.optional(),
  access_code_ids: z.array(uuid).optional(),
  event_type: z.string().optional(),
  event_types: z.array(z.string()).optional(),
  since: instant.optional(),
  between: z.tuple([instant, instant]).optional(),
  limit: limit.optional(),
});
export const eventGetInput = z.strictObject({ event_id: uuid });

const webhookUrl = z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' });
export const webhookCreateInput = z.strictObject({
  url: webhookUrl,
  event_types: z.array(z.string()).min(1, 'must name at least one event type, or *').optional(),
});
export const webhookListInput = z.strictObject({});
export const webhookIdInput = z.strictObject({ webhook_id: z.string().min(1, 'must not be empty') });
export const webhookUpdateInput = z.strictObject({
  webhook_id: z.string().min(1, 'must not be empty'),
  event_types: z.array(z.string()).min(1, 'must name at least one event type, or *'),
});

/** Parses a request body; the first problem becomes a 400 naming its field. */
export function parseInput<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    throw new SeamInputError(key, `${key}: not supported by this gateway (docs/seam-api.md)`);
  }
  const field =
    issue.path
      .map((part, index) =>
        typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
      )
      .join('') || 'body';
  throw new SeamInputError(field, `${field}: ${issue.message}`);
}
