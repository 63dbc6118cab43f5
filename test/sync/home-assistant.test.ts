import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LOCK_STATES } from '../../firmware/lock.ts';
import { homeAssistantDiscovery, homeAssistantState } from '../../firmware/sync/home-assistant.ts';
import { topicsFor } from '../../firmware/sync/topics.ts';

/** Home Assistant's MQTT lock schema, written down from its source (see the fixture's `source`). */
interface KeySpec {
  type: string;
  nullable?: boolean;
  values?: Array<string | number>;
  items?: KeySpec;
  keys?: Record<string, KeySpec>;
  required?: string[];
  oneOfRequired?: string[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/ha-mqtt-lock-schema.json', import.meta.url), 'utf8'),
) as {
  required: string[];
  deprecated: Record<string, string>;
  exclusive: string[][];
  keys: Record<string, KeySpec>;
};

// homeassistant/components/mqtt/util.py valid_topic: non-empty UTF-8, at most 65535 bytes, no NUL.
const topic = z
  .string()
  .min(1)
  .refine((t) => Buffer.byteLength(t) <= 65_535 && !t.includes('\0'), 'not a valid MQTT topic');
const publishTopic = topic.refine((t) => !/[+#]/.test(t), 'wildcards are not allowed in a publish topic');
const subscribeTopic = topic.refine(
  (t) =>
    t
      .split('/')
      .every((level, i, all) => (level.includes('#') ? level === '#' && i === all.length - 1 : true)) &&
    t.split('/').every((level) => !level.includes('+') || level === '+'),
  'wildcards must fill a whole level (# only last)',
);

function toZod(spec: KeySpec): z.ZodType {
  const base = ((): z.ZodType => {
    switch (spec.type) {
      case 'string':
      case 'template':
        return z.string();
      case 'boolean':
        return z.boolean();
      case 'enum':
        return z.union(spec.values!.map((v) => z.literal(v)) as never);
      case 'publish_topic':
        return publishTopic;
      case 'subscribe_topic':
        return subscribeTopic;
      case 'regex':
        return z.string().refine((s) => {
          try {
            new RegExp(s);
            return true;
          } catch {
            return false;
          }
        }, 'not a regular expression');
      case 'icon':
        return z.string().regex(/^[^:]+:[^:]+$/, 'icons are prefix:name');
      case 'url':
        return z.url();
      case 'pair':
        return z.tuple([z.string(), z.string()]);
      case 'list':
        return z.array(toZod(spec.items!));
      case 'object':
        return objectSchema(spec.keys!, spec.required ?? [], spec.oneOfRequired);
      default:
        throw new Error(`fixture: unknown type ${spec.type}`);
    }
  })();
  return spec.nullable ? base.nullable() : base;
}

/** Unknown keys are refused: Home Assistant would drop them silently (vol.REMOVE_EXTRA). */
function objectSchema(keys: Record<string, KeySpec>, required: string[], oneOf?: string[]) {
  const shape = Object.fromEntries(
    Object.entries(keys).map(([key, spec]) => [
      key,
      required.includes(key) ? toZod(spec) : toZod(spec).optional(),
    ]),
  );
  return z
    .strictObject(shape)
    .refine((value) => !oneOf || oneOf.some((key) => value[key] !== undefined), `needs one of ${oneOf}`);
}

const lockSchema = objectSchema(fixture.keys, fixture.required)
  .refine(
    (config) => Object.keys(fixture.deprecated).every((key) => !(key in config)),
    'uses a deprecated key',
  )
  .refine(
    (config) => fixture.exclusive.every((group) => group.filter((key) => key in config).length <= 1),
    'mutually exclusive keys',
  );

describe('Home Assistant discovery config', () => {
  const topics = topicsFor('Front-Door_1');
  const config = homeAssistantDiscovery('Front-Door_1', topics);

  it("passes Home Assistant's MQTT lock schema", () => {
    const result = lockSchema.safeParse(config);
    expect(result.success ? 'valid' : z.prettifyError(result.error)).toBe('valid');
  });

  it('the fixture refuses what Home Assistant refuses: the old payload_open null and object_id', () => {
    const old = { ...config, payload_open: null };
    expect(lockSchema.safeParse(old).success).toBe(false);
    const { default_entity_id: _replaced, ...rest } = config;
    expect(lockSchema.safeParse({ ...rest, object_id: 'tumbler_front' }).success).toBe(false);
    expect(lockSchema.safeParse({ ...config, objectid: 'x' }).success).toBe(false);
    expect(lockSchema.safeParse({ ...config, command_topic: 'lock/+/ha/set' }).success).toBe(false);
  });

  it('names a valid entity id, and every state the lock publishes is one Home Assistant knows', () => {
    expect(config.default_entity_id).toMatch(/^lock\.[a-z0-9_]+$/);
    const known = Object.entries(config)
      .filter(([key]) => key.startsWith('state_') && key !== 'state_topic')
      .map(([, value]) => value);
    for (const state of LOCK_STATES) expect(known).toContain(homeAssistantState(state));
  });

  it('points at the lock topics, the refusal attributes included', () => {
    expect(config).toMatchObject({
      command_topic: topics.haSet,
      state_topic: topics.haState,
      availability_topic: topics.availability,
      json_attributes_topic: topics.haAttributes,
    });
  });
});
