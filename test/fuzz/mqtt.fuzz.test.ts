import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveDeviceKeys } from '../../firmware/provisioning.ts';
import type { LinkContext } from '../../firmware/sync/context.ts';
import { INITIAL_SYNC } from '../../firmware/sync/desired.ts';
import { sign } from '../../firmware/sync/envelope.ts';
import { onCommand } from '../../firmware/sync/handlers/cmd.ts';
import { onDesiredCodes } from '../../firmware/sync/handlers/desired-codes.ts';
import { onEventsAck } from '../../firmware/sync/handlers/events-ack.ts';
import { onHomeAssistantSet } from '../../firmware/sync/handlers/ha-set.ts';
import { pinKey } from '../../firmware/sync/pin-crypto.ts';
import { topicsFor } from '../../firmware/sync/topics.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { fuzzOptions } from './runs.ts';

// The handlers run against the real firmware; only the network side is replaced by a
// recorder of what the lock would publish (the broker is not what is fuzzed here).
let lock: SimLock;
let link: LinkContext;
const published: Array<{ topic: string; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  lock = await SimLock.create({
    startEpochMs: Date.UTC(2026, 0, 5, 9),
    travelMs: 0,
    config: { deviceId: 'fuzz' },
  });
  lock.firmware.admin.add({ name: 'owner', pin: '2468' }, 'fuzz', lock.firmware.manager.wallNow());
  const { firmware } = lock;
  link = {
    firmware,
    deviceId: 'fuzz',
    topics: topicsFor('fuzz'),
    signingKey: deriveDeviceKeys(firmware.secret).signing,
    pinKey: pinKey(firmware.secret),
    log: firmware.log,
    options: {
      url: 'mqtt://127.0.0.1:1',
      outboxMax: 1000,
      window: 8,
      ackTimeoutMs: 10_000,
      maxRoundTripMs: 2000,
      homeAssistant: { discovery: true, allowUnlock: false },
    },
    async publishSigned(topic, _kind, body) {
      published.push({ topic, body });
    },
    async publishPlain(topic, payload) {
      published.push({ topic, body: { payload } });
    },
    publishState() {},
    async syncTime() {
      return { ok: false, error: 'not_connected', message: 'fuzz' };
    },
    acknowledge() {
      throw new Error('a fuzzed ack must never be accepted');
    },
    reject() {},
  };
});
afterAll(async () => {
  await lock.close();
});

/** What a rejected message must not change. */
function snapshot() {
  const { firmware } = lock;
  const sync = firmware.state.get('sync', INITIAL_SYNC);
  return JSON.stringify({
    lock: firmware.manager.status().lock,
    mode: firmware.manager.status().mode,
    codes: firmware.codes.list().map((c) => [c.id, c.name, c.enabled, c.uses]),
    applied: sync.appliedRevision,
    counter: sync.lastCounter,
    acked: firmware.audit.chainState().acked,
  });
}

const wrongKey = new Uint8Array(32).fill(7);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue().map((json) => Buffer.from(JSON.stringify(json) ?? 'null')),
  // Plausible shapes signed with the wrong key, or unsigned.
  fc
    .record(
      {
        id: fc.string({ maxLength: 70 }),
        name: fc.constantFrom('unlock', 'lock', 'set_mode', 'get_status', 'reboot'),
        args: fc.jsonValue(),
        counter: fc.oneof(fc.integer(), fc.double(), fc.string()),
        expires_at: fc.oneof(fc.constant(new Date(Date.UTC(2026, 0, 5, 9, 5)).toISOString()), fc.string()),
        revision: fc.integer(),
        codes: fc.array(fc.record({ ref: fc.string(), pin: fc.string() }), { maxLength: 3 }),
        seq: fc.integer(),
      },
      { requiredKeys: [] },
    )
    .chain((body) =>
      fc.constantFrom(JSON.stringify(body), JSON.stringify(sign(wrongKey, 'cmd', 'fuzz', body))),
    )
    .map((text) => Buffer.from(text)),
);

/** Authentic (signed with the lock's key) but malformed: must be refused as invalid, changing nothing. */
const signedJunk = (kind: 'cmd' | 'desired_codes' | 'events_ack') =>
  fc
    .dictionary(
      fc.constantFrom(
        'id',
        'name',
        'args',
        'counter',
        'expires_at',
        'revision',
        'issued_at',
        'codes',
        'seq',
        'extra',
      ),
      fc.jsonValue(),
      { maxKeys: 6 },
    )
    .map((body) => Buffer.from(JSON.stringify(sign(link.signingKey, kind, 'fuzz', body))));

describe('fuzz: MQTT payloads', () => {
  it('cmd: every bad payload gets exactly one error reply and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          payload,
          fc.constant(null).chain(() => signedJunk('cmd')),
        ),
        async (bytes) => {
          const before = snapshot();
          published.length = 0;
          await onCommand(link, bytes);
          const replies = published.filter((p) => p.topic === link.topics.cmdRes);
          expect(replies).toHaveLength(1);
          expect(replies[0]!.body).toMatchObject({
            ok: false,
            error: expect.any(String),
            message: expect.any(String),
          });
          expect(snapshot()).toBe(before);
        },
      ),
      fuzzOptions(300),
    );
  });

  it('desired/codes: a bad document changes no code and is reported as last_error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          payload,
          fc.constant(null).chain(() => signedJunk('desired_codes')),
        ),
        async (bytes) => {
          fc.pre(bytes.length > 0);
          const before = snapshot();
          published.length = 0;
          await onDesiredCodes(link, bytes);
          expect(snapshot()).toBe(before);
          const reported = published.find((p) => p.topic === link.topics.reportedCodes);
          expect(reported?.body.last_error).toMatchObject({ error: expect.any(String) });
        },
      ),
      fuzzOptions(300),
    );
  });

  it('events/ack and Home Assistant set: bad input acknowledges nothing and opens nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          payload,
          fc.constant(null).chain(() => signedJunk('events_ack')),
        ),
        async (bytes) => {
          const before = snapshot();
          onEventsAck(link, bytes);
          await onHomeAssistantSet(link, bytes);
          await lock.settle();
          expect(snapshot()).toBe(before);
        },
      ),
      fuzzOptions(300),
    );
  });
});
