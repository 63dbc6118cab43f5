import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../../firmware/sync/envelope.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { MAX_DESIRED_CODES } from '../../firmware/sync/messages.ts';
import { TIME_SYNC_TIMEOUT_MS } from '../../firmware/sync/time-sync.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { startRig } from '../helpers/sync-rig.ts';
import { onCleanup } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const reportSchema = z
  .object({ revision: z.number(), codes: z.array(z.record(z.string(), z.unknown())) })
  .passthrough();

describe('gateway sync over a real Mosquitto', () => {
  it('applies pushed codes, reports per-code status, and delivers a keypad event that is acknowledged', async () => {
    const rig = await startRig(broker);
    const { lock, gateway, channel } = rig;
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const muchLater = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const reported = gateway.waitFor(channel.topics.reportedCodes, 10_000, (p) => {
      const r = channel.open('reported_codes', p, reportSchema);
      return r?.revision === 1 ? r : undefined;
    });
    await gateway.mqtt.subscribeAsync(channel.topics.reportedCodes, { qos: 1 });
    const doc = channel.sign('desired_codes', {
      revision: 1,
      issued_at: new Date().toISOString(),
      codes: [
        { ref: 'g1', name: 'guest', pin: '2468' },
        {
          ref: 'g2',
          name: 'next guest',
          pin: '1357',
          kind: 'time_bound',
          starts_at: later,
          ends_at: muchLater,
        },
        { ref: 'g3', name: 'typo', pin: '12' },
      ],
    });
    await gateway.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
      qos: 1,
      retain: true,
    });
    const report = await reported;
    expect(report.codes).toEqual([
      { ref: 'g1', name: 'guest', status: 'set' },
      { ref: 'g2', name: 'next guest', status: 'pending' },
      {
        ref: 'g3',
        name: 'typo',
        status: 'error',
        error: 'invalid_code',
        message: 'pin: must be 4 to 10 digits',
      },
    ]);
    expect(JSON.stringify(report)).not.toMatch(/2468|1357/);

    await lock.press('2468#');
    expect(lock.firmware.manager.status().lastDecision?.decision).toMatchObject({
      outcome: 'granted',
      code: { name: 'guest' },
    });
    await waitUntil(() => rig.events.some((e) => e.type === 'decision'), 10_000, 'the decision event');
    const decision = rig.events.find((e) => e.type === 'decision')!;
    expect(decision.data).toMatchObject({ outcome: 'granted', code_name: 'guest' });
    expect(decision.bootId).toBe(lock.firmware.bootId);
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'the outbox to drain after acks');
    expect(rig.link.status().ackedSeq).toBe(lock.firmware.audit.lastSeq());
  });

  it('ignores a revision it has applied and never applies half a document', async () => {
    const rig = await startRig(broker, 'back');
    const { gateway, channel, lock } = rig;
    const push = async (revision: number, codes: unknown[]) => {
      const doc = channel.sign('desired_codes', { revision, issued_at: new Date().toISOString(), codes });
      await gateway.mqtt.publishAsync(channel.topics.desiredCodes, JSON.stringify(doc), {
        qos: 1,
        retain: true,
      });
    };
    await push(5, [{ ref: 'a', name: 'a', pin: '1111' }]);
    await waitUntil(() => lock.firmware.codes.count() === 1, 10_000, 'revision 5');
    // A stale revision is refused like every other document: reported as last_error.
    const staleReport = gateway.waitFor(channel.topics.reportedCodes, 10_000, (p) => {
      const r = channel.open('reported_codes', p, reportSchema);
      return r?.last_error ? r : undefined;
    });
    await gateway.mqtt.subscribeAsync(channel.topics.reportedCodes, { qos: 1 });
    await push(4, [{ ref: 'b', name: 'b', pin: '2222' }]);
    expect(await staleReport).toMatchObject({
      revision: 5,
      last_error: { error: 'stale_revision', message: 'revision 4 is below the applied revision 5' },
    });
    await push(6, [
      { ref: 'a', name: 'a', pin: '1111' },
      { ref: 'c', name: 'c', pin: '3333' },
    ]);
    await waitUntil(() => lock.firmware.codes.count() === 2, 10_000, 'revision 6');
    expect(lock.firmware.codes.list().map((c) => c.ref)).toEqual(['a', 'c']);
    expect(lock.firmware.codes.findByPin('2222')).toBeUndefined();
  });

  it('announces itself to Home Assistant and follows its remote-operation rules', async () => {
    const rig = await startRig(broker, 'hadoor');
    const { gateway, lock } = rig;
    const discovery = gateway.waitFor('homeassistant/lock/tumbler_hadoor/config', 10_000, (p) =>
      JSON.parse(p.toString()),
    );
    await gateway.mqtt.subscribeAsync('homeassistant/lock/tumbler_hadoor/config', { qos: 1 });
    expect(await discovery).toMatchObject({
      unique_id: 'tumbler_hadoor',
      command_topic: 'lock/hadoor/ha/set',
      state_topic: 'lock/hadoor/ha/state',
      availability_topic: 'lock/hadoor/availability',
    });
    const state = gateway.waitFor('lock/hadoor/ha/state', 10_000, (p) => p.toString());
    await gateway.mqtt.subscribeAsync('lock/hadoor/ha/state', { qos: 1 });
    expect(await state).toBe('LOCKED');
    // UNLOCK from Home Assistant is refused unless allowed (it cannot sign); it is audited.
    await gateway.mqtt.publishAsync('lock/hadoor/ha/set', 'UNLOCK', { qos: 1 });
    await waitUntil(
      () => lock.firmware.audit.latest(5).some((r) => r.type === 'remote_refused'),
      10_000,
      'the refusal',
    );
    expect(lock.firmware.manager.status().lock).toBe('locked');
  });
});

describe('document sizes', () => {
  it('the gateway takes a 10,000-entry reported/codes although it is over the 1 MiB the lock accepts inbound', async () => {
    const rig = await startRig(broker, 'big');
    const { gateway, channel, db } = rig;
    const codes = Array.from({ length: MAX_DESIRED_CODES }, (_, i) => ({
      ref: `guest-${String(i).padStart(5, '0')}`,
      name: `guest room ${String(i).padStart(5, '0')} east`,
      pin: '12',
    }));
    const doc = JSON.stringify(
      channel.sign('desired_codes', { revision: 1, issued_at: new Date().toISOString(), codes }),
    );
    expect(doc.length).toBeLessThan(MAX_PAYLOAD_BYTES);
    let reportBytes = 0;
    gateway.mqtt.on('message', (topic, payload) => {
      if (topic === channel.topics.reportedCodes) reportBytes = payload.length;
    });
    await gateway.mqtt.subscribeAsync(channel.topics.reportedCodes, { qos: 1 });
    await gateway.mqtt.publishAsync(channel.topics.desiredCodes, doc, { qos: 1, retain: true });
    const stored = () =>
      db.get<{ revision: number }>("SELECT revision FROM reported WHERE device_id = 'big'");
    await waitUntil(async () => (await stored())?.revision === 1, 30_000, 'the report stored by the gateway');
    expect(reportBytes).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  });
});

describe('the link on the lock’s Scheduler', () => {
  it('times a time sync out after 5 s of the lock’s virtual time, not of the machine’s', async () => {
    const lock = await SimLock.create({ config: { deviceId: 'unanswered' } });
    const link = new SyncLink(lock.firmware, 'unanswered', {
      url: broker.url,
      outboxMax: 1000,
      window: 64,
      ackTimeoutMs: 1000,
      maxRoundTripMs: 2000,
      homeAssistant: { discovery: false, allowUnlock: false },
    });
    onCleanup(async () => {
      await link.stop();
      await lock.close();
    });
    link.start();
    await waitUntil(() => link.status().connected, 10_000, 'the link to connect');
    let result: Awaited<ReturnType<SyncLink['syncTime']>> | undefined;
    void link.syncTime().then((r) => {
      result = r;
    });
    await lock.advance(TIME_SYNC_TIMEOUT_MS - 1);
    expect(result).toBeUndefined(); // nobody answers time/req; virtual time has not run out
    await lock.advance(1);
    expect(result).toMatchObject({ ok: false, error: 'timeout' });
  });
});
