import { SeamHttp } from '@seamapi/http/connect';
import { openapi } from '@seamapi/types/connect';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { TUMBLER_DEVICE_TYPE } from '../../gateway/seam/devices.ts';

/**
 * Response validation against the OpenAPI document of @seamapi/types, with exactly the
 * deviations docs/seam-api.md documents:
 * 1. a device's `device_type` may be `tumbler_lock` (Seam's enum has no value for it);
 * 2. `access_code.set_on_device` events carry no `code` (a PIN is never in an event).
 */
type Schema = Record<string, unknown>;

/** OpenAPI 3.0 `nullable` without a `type` constrains nothing; ajv refuses it, so it goes. */
function forAjv(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(forAjv);
  if (value === null || typeof value !== 'object') return value;
  const out: Schema = {};
  const source = value as Schema;
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'nullable' && !('type' in value)) continue;
    // OpenAPI 3.0 (JSON Schema draft 4): a boolean exclusiveMinimum/Maximum qualifies minimum/maximum.
    if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
      const bound = source[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'];
      if (inner === true && typeof bound === 'number') out[key] = bound;
      else if (typeof inner === 'number') out[key] = inner;
      continue;
    }
    if (
      (key === 'minimum' && source.exclusiveMinimum === true) ||
      (key === 'maximum' && source.exclusiveMaximum === true)
    )
      continue;
    if (key === '$ref' && typeof inner === 'string')
      out[key] = inner.replace('#/components/', 'seam#/components/');
    else out[key] = forAjv(inner);
  }
  return out;
}

function withDeviations(components: Schema): Schema {
  const schemas = components.schemas as Record<string, Schema>;
  const deviceType = (schemas.device!.properties as Record<string, Schema>).device_type!;
  const lockTypes = (deviceType.oneOf as Schema[])[0]!;
  lockTypes.enum = [...(lockTypes.enum as string[]), TUMBLER_DEVICE_TYPE];
  const setOnDevice = (schemas.event!.oneOf as Schema[]).find(
    (variant) =>
      ((variant.properties as Record<string, Schema>).event_type!.enum as string[])[0] ===
      'access_code.set_on_device',
  )!;
  setOnDevice.required = (setOnDevice.required as string[]).filter((name) => name !== 'code');
  return components;
}

const ajv = new Ajv({ strict: false, allErrors: false });
(formats as unknown as { default: (a: Ajv) => void }).default(ajv);
ajv.addFormat('float', true);
ajv.addSchema({ $id: 'seam', components: withDeviations(forAjv(openapi.components) as Schema) });

const validators = new Map<string, ValidateFunction>();
const paths = openapi.paths as unknown as Record<
  string,
  Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
>;

function validatorFor(path: string, status: number): ValidateFunction | undefined {
  const key = `${path} ${status}`;
  if (!validators.has(key)) {
    const operation = paths[path]?.post ?? Object.values(paths[path] ?? {})[0];
    if (!operation) throw new Error(`@seamapi/types has no route ${path}`);
    const schema = operation.responses[String(status)]?.content?.['application/json']?.schema;
    if (!schema && status < 400) throw new Error(`@seamapi/types has no ${status} response for ${path}`);
    if (schema) validators.set(key, ajv.compile(forAjv(schema) as Schema));
  }
  return validators.get(key);
}

/**
 * Throws, naming the first mismatch, unless `body` is what Seam's OpenAPI says `path`
 * answers with `status`. Seam documents error statuses without a body schema; those must
 * be its error envelope, `{ error: { type, message } }`.
 */
export function assertSeamResponse(path: string, status: number, body: unknown): void {
  const validate = validatorFor(path, status);
  if (!validate) {
    const error = (body as { error?: { type?: unknown; message?: unknown } } | null)?.error;
    if (typeof error?.type !== 'string' || typeof error.message !== 'string')
      throw new Error(`${path} ${status}: not a Seam error body: ${JSON.stringify(body)}`);
    return;
  }
  if (!validate(body)) {
    throw new Error(
      `${path} ${status} does not match @seamapi/types: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}

export interface SeenResponse {
  path: string;
  status: number;
  body: unknown;
}

/**
 * The official client, with every response it receives (errors included) parsed,
 * recorded and checked against @seamapi/types before the client sees it: through its
 * documented `axiosOptions`, as the response transformer. A mismatch fails the request.
 */
export function checkedSeamHttp(apiKey: string, endpoint: string): { seam: SeamHttp; seen: SeenResponse[] } {
  const seen: SeenResponse[] = [];
  function parseAndCheck(this: { url?: string }, data: unknown, _headers: unknown, status?: number) {
    const body = typeof data === 'string' && data !== '' ? (JSON.parse(data) as unknown) : data;
    const path = new URL(this.url ?? '', 'http://gateway').pathname;
    seen.push({ path, status: status ?? 0, body });
    assertSeamResponse(path, status ?? 0, body);
    return body;
  }
  const seam = new SeamHttp({ apiKey, endpoint, axiosOptions: { transformResponse: [parseAndCheck] } });
  return { seam, seen };
}
