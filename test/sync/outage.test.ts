import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncLink } from '../../firmware/sync/link.ts';
import { PUBLISHER_TICK_MS } from '../../firmware/sync/publisher.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { addDevice, listEvents, openGatewayDb } from '../../gateway/store.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { startRig } from '../helpers/sync-rig.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

const isAscending = (values: number[]) => values.every((v, i) => i === 0 || v > values[i - 1]!);

describe('nothing is lost', () => {
  it('keeps every event across a broker kill and restart, and the gateway hands them on once each, in order', async () => {
    broker = await TestBroker.start();
    const rig = await startRig(broker, 'outage');
    const { lock } = rig;
    const record = (i: number) =>
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    for (let i = 0; i < 300; i++) record(i);
    await waitUntil(() => rig.events.length > 50, 10_000, 'the first events');
    await broker.stop('SIGKILL');
    for (let i = 300; i < 600; i++) record(i);
    await broker.resume();
    for (let i = 600; i < 900; i++) record(i);
    // Reconnecting adds events of its own (a time sync), so wait for the outbox, then count.
    await waitUntil(() => rig.link.status().outboxDepth === 0, 60_000, 'every event acknowledged');
    const last = lock.firmware.audit.lastSeq();
    expect(rig.link.status().ackedSeq).toBe(last);
    const stored = await listEvents(rig.db, 'outage', 0, 10_000);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    // Each reached the application once, in seq order, although after the reconnect newer
    // events can arrive before the resent older ones (docs/protocol.md, Events).
    expect(rig.events.map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    const numbers = stored.filter((e) => e.type === 'test_event').map((e) => e.data.i as number);
    expect(numbers).toEqual(Array.from({ length: 900 }, (_, i) => i));
  });

  it('hands events on in seq order when newer ones arrive first (a gateway that subscribed after the backlog went out)', async () => {
    broker = await TestBroker.start();
    const rig = await startRig(broker, 'late', {}, { virtualTime: true });
    const { lock, channel } = rig;
    const record = (i: number) =>
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    for (let i = 0; i < 10; i++) record(i);
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'the first events acknowledged');
    const acked = rig.link.status().ackedSeq;
    await rig.gateway.close();
    // The backlog goes out while no gateway listens (a bare subscriber sees it pass).
    const bare = await GatewayClient.connect({ url: broker.url });
    let passed = 0;
    bare.mqtt.on('message', () => passed++);
    await bare.mqtt.subscribeAsync(channel.topics.events, { qos: 1 });
    for (let i = 10; i < 60; i++) record(i);
    await waitUntil(() => passed >= 50, 10_000, 'the backlog published unheard');
    await bare.close();
    // A gateway subscribes; the newest events reach it before the resent backlog.
    const client = await GatewayClient.connect({ url: broker.url });
    const arrived: number[] = [];
    client.mqtt.on('message', (topic, payload) => {
      if (topic === channel.topics.events) arrived.push(JSON.parse(payload.toString()).seq);
    });
    const handed: number[] = [];
    await new GatewayService(client, rig.db, { onEvent: (e) => handed.push(e.seq) }, 'late').start();
    try {
      for (let i = 60; i < 70; i++) record(i);
      const last = lock.firmware.audit.lastSeq();
      await waitUntil(() => arrived.includes(last), 10_000, 'the newest events');
      await lock.advance(2 * PUBLISHER_TICK_MS); // no ack came: the lock publishes from its ack again
      await waitUntil(() => rig.link.status().ackedSeq === last, 10_000, 'everything acknowledged');
      expect(arrived[0]).toBeGreaterThan(acked + 50); // arrival order: newest first
      expect(handed).toEqual(Array.from({ length: last - acked }, (_, i) => acked + 1 + i));
    } finally {
      await client.close();
    }
  });

  it('delivers thousands of events queued over days offline, in order', async () => {
    broker = await TestBroker.start();
    const rig = await startRig(broker, 'days');
    await broker.stop('SIGKILL');
    const { lock } = rig;
    await lock.firmware.admin.add({ name: 'cleaner', pin: '4711' }, 'test', lock.firmware.manager.wallNow());
    for (let day = 0; day < 3; day++) {
      for (let i = 0; i < 1000; i++)
        lock.firmware.manager.record('test_event', { day, i }, lock.firmware.manager.wallNow());
      await lock.press('4711#');
      await lock.advance(86_400_000);
    }
    expect(rig.link.status().outboxDepth).toBeGreaterThan(3000);
    await broker.resume();
    await waitUntil(() => rig.link.status().outboxDepth === 0, 60_000, 'the outbox to drain');
    const last = lock.firmware.audit.lastSeq();
    expect(rig.events.map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(isAscending(rig.events.map((e) => e.seq))).toBe(true);
    expect(rig.events.filter((e) => e.type === 'decision')).toHaveLength(3);
  });

  it('bounds the outbox: the oldest events go, an outbox_overflow event says which, and acks pass the gap', async () => {
    broker = await TestBroker.start();
    const rig = await startRig(broker, 'bounded');
    await rig.link.stop();
    // The gateway may have acknowledged the boot event before the link stopped.
    const firstUnacked = rig.link.status().ackedSeq + 1;
    const { lock } = rig;
    for (let i = 0; i < 250; i++)
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    const small = new SyncLink(lock.firmware, 'bounded', { ...rig.link.options, outboxMax: 100 });
    small.enforceBound();
    expect(small.status().outboxDepth).toBeLessThanOrEqual(101);
    const overflow = lock.firmware.audit.latest(1)[0]!;
    expect(overflow.type).toBe('outbox_overflow');
    expect(overflow.data).toMatchObject({ first_seq: firstUnacked });
    small.start();
    try {
      await waitUntil(() => small.status().outboxDepth === 0, 60_000, 'acks past the dropped range');
      expect(small.status().ackedSeq).toBe(lock.firmware.audit.lastSeq());
      expect(rig.events.some((e) => e.type === 'outbox_overflow')).toBe(true);
      expect(small.status().outboxDepth).toBe(0);
    } finally {
      await small.stop();
    }
  });

  it('publishes again when no ack comes: the broker accepted events while the gateway was not subscribed', async () => {
    broker = await TestBroker.start();
    const lock = await SimLock.create({ config: { deviceId: 'unheard' } });
    const link = new SyncLink(lock.firmware, 'unheard', {
      url: broker.url,
      outboxMax: 1000,
      window: 64,
      ackTimeoutMs: 1000,
      maxRoundTripMs: 2000,
      homeAssistant: { discovery: false, allowUnlock: false },
    });
    const gatewayDb = await openGatewayDb(join(tempDir(), 'gw.db'));
    await addDevice(gatewayDb, 'unheard', lock.firmware.secret);
    const gateway = await GatewayClient.connect({ url: broker.url });
    try {
      // The lock publishes (and the broker PUBACKs) with no gateway listening: a bare
      // subscriber sees them go by.
      let passed = 0;
      const bare = (topic: string) => {
        if (topic === 'lock/unheard/events') passed++;
      };
      gateway.mqtt.on('message', bare);
      await gateway.mqtt.subscribeAsync('lock/unheard/events', { qos: 1 });
      link.start();
      for (let i = 0; i < 20; i++)
        lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
      await waitUntil(() => passed >= 20, 10_000, 'the events to be published unheard');
      gateway.mqtt.off('message', bare);
      expect(lock.firmware.audit.chainState().acked).toBe(0);
      const heard: number[] = [];
      await new GatewayService(gateway, gatewayDb, { onEvent: (e) => heard.push(e.seq) }, 'unheard').start();
      // The link's timers run on the lock's (virtual) Scheduler: no resend until it moves.
      // (A real-time sleep here could not show that: it would be shorter than ackTimeoutMs.)
      expect(link.status().outboxDepth).toBeGreaterThan(0);
      await lock.advance(2 * PUBLISHER_TICK_MS);
      await waitUntil(
        () => link.status().outboxDepth === 0,
        20_000,
        'the events to be published again and acknowledged',
      );
      expect(heard).toEqual(Array.from({ length: lock.firmware.audit.lastSeq() }, (_, i) => i + 1));
    } finally {
      await link.stop();
      await gateway.close();
      await gatewayDb.close();
      await lock.close();
    }
  });
});
