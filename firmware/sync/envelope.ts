import { createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { describeZodError } from '../validation.ts';
import { canonicalJson } from './canonical.ts';

/** What a signature is for; part of the MAC, so a signed ack can never pass as a command. */
export type MessageKind =
  | 'desired_codes'
  | 'events_ack'
  | 'cmd'
  | 'time_res'
  | 'state'
  | 'reported_codes'
  | 'event'
  | 'cmd_res'
  | 'time_req';

/** Largest payload the lock parses; bigger ones are refused before JSON.parse. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * What the lock sends is not held to its own inbound limit: a `reported/codes` for
 * 10,000 entries echoes each ref and name with a status (and, for an error, a message),
 * over 1 MiB when many entries are refused. The gateway accepts up to this.
 */
export const GATEWAY_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function signature(
  key: Uint8Array,
  kind: MessageKind,
  deviceId: string,
  body: Record<string, unknown>,
): string {
  return canonicalSignature(key, kind, deviceId, canonicalJson(body));
}

/** The signature of a body already in canonical JSON (the outbox serialises each event once). */
export function canonicalSignature(
  key: Uint8Array,
  kind: MessageKind,
  deviceId: string,
  canonical: string,
): string {
  return createHmac('sha256', key).update(`tumbler/v1\n${kind}\n${deviceId}\n${canonical}`).digest('hex');
}

/** The body with its `sig` field: HMAC-SHA256 over kind, device and the canonical body. */
export function sign<T extends Record<string, unknown>>(
  key: Uint8Array,
  kind: MessageKind,
  deviceId: string,
  body: T,
): T & { sig: string } {
  return { ...body, sig: signature(key, kind, deviceId, body) };
}

export type OpenResult<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      error: 'too_large' | 'bad_json' | 'bad_signature' | 'invalid';
      message: string;
      id?: string;
    };

/**
 * Parses and checks a signed message: size, JSON, signature (constant time), then
 * shape. Refusals say what is wrong and never repeat the payload.
 */
export function openSigned<S extends z.ZodType>(
  key: Uint8Array,
  kind: MessageKind,
  deviceId: string,
  payload: Buffer,
  schema: S,
  maxBytes = MAX_PAYLOAD_BYTES,
): OpenResult<z.infer<S>> {
  if (payload.length > maxBytes) {
    return {
      ok: false,
      error: 'too_large',
      message: `payload is ${payload.length} bytes; the limit is ${maxBytes}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'bad_json', message: 'payload is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'bad_json', message: 'payload must be a JSON object' };
  }
  const { sig, ...body } = json as Record<string, unknown>;
  const id = typeof body.id === 'string' ? body.id.slice(0, 64) : undefined;
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) {
    return {
      ok: false,
      error: 'bad_signature',
      message: 'missing or malformed sig (64 hex digits)',
      ...(id ? { id } : {}),
    };
  }
  const expected = Buffer.from(signature(key, kind, deviceId, body), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) {
    return {
      ok: false,
      error: 'bad_signature',
      message: 'signature does not verify with this lock key',
      ...(id ? { id } : {}),
    };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    return { ok: false, error: 'invalid', message: describeZodError(parsed.error), ...(id ? { id } : {}) };
  return { ok: true, value: parsed.data };
}
