import { z } from 'zod';
import { codeNameSchema } from '../access/code-spec.ts';
import { MODES } from '../access/types.ts';
import { isoInstantSchema } from '../validation.ts';

const isoInstant = isoInstantSchema;

export const MAX_DESIRED_CODES = 10_000;

/** desired/codes: the full set of gateway-managed codes. Entries are checked one by one later. */
export const desiredCodesSchema = z
  .object({
    revision: z.number().int().min(1),
    issued_at: isoInstant,
    codes: z
      .array(
        z
          .object({ ref: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . : -') })
          .catchall(z.unknown()),
      )
      .max(MAX_DESIRED_CODES),
  })
  .strict()
  .refine((doc) => new Set(doc.codes.map((c) => c.ref)).size === doc.codes.length, {
    message: 'every code needs a distinct ref',
    path: ['codes'],
  });
export type DesiredCodes = z.infer<typeof desiredCodesSchema>;

/** 32 hex digits: a lock database's incarnation (firmware/store/identity.ts). */
export const incarnationSchema = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');

export const eventsAckSchema = z
  .object({ seq: z.number().int().min(0), incarnation: incarnationSchema })
  .strict();

export const COMMANDS = [
  'unlock',
  'lock',
  'set_mode',
  'time_sync',
  'revoke_offline',
  'assign_backup_code',
  'get_status',
  'list_codes',
  'remove_code',
  'sim_keypad',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export const commandSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . : -'),
    name: z.enum(COMMANDS, { message: `must be one of ${COMMANDS.join(', ')}` }),
    args: z.record(z.string(), z.unknown()).default({}),
    counter: z.number().int().min(1),
    expires_at: isoInstant,
    // The database the command is for: a lock wiped and provisioned again (same key,
    // counter back at 0) must not run a command captured from its previous life.
    incarnation: incarnationSchema,
  })
  .strict();
export type Command = z.infer<typeof commandSchema>;

export const commandArgs = {
  unlock: z.object({}).strict(),
  lock: z.object({}).strict(),
  get_status: z.object({}).strict(),
  list_codes: z.object({}).strict(),
  remove_code: z.object({ id: z.number().int().min(1) }).strict(),
  sim_keypad: z.object({ code: z.string().regex(/^\d{4,19}$/, 'must be 4-19 digits') }).strict(),
  time_sync: z.object({}).strict(),
  set_mode: z.object({ mode: z.enum(MODES) }).strict(),
  revoke_offline: z.union([
    z.object({ fingerprint: z.string(), expires_at: isoInstant.optional() }).strict(),
    z.object({ code: z.string() }).strict(),
  ]),
  assign_backup_code: z
    .object({
      id: z.number().int().min(1),
      name: codeNameSchema,
      starts_at: isoInstant,
      ends_at: isoInstant,
    })
    .strict(),
} satisfies Record<CommandName, z.ZodType>;

export const timeResSchema = z
  .object({ nonce: z.string().regex(/^[0-9a-f]{32}$/), server_time: z.number().int().positive() })
  .strict();
