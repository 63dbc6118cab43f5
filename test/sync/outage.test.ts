import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncLink } from '../../firmware/sync/link.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { GatewayClient } from '../../scripts/gateway/client.ts';
import { GatewayService } from '../../scripts/gateway/service.ts';
import { addDevice, listEvents, openGatewayDb } from '../../scripts/gateway/store.ts';
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
  it('keeps every event across a broker kill and restart; the gateway removes duplicates', async () => {
    broker = await TestBroker.start();
    const rig = await startRig(broker, 'outage');
    const { lock } = rig;
    const record = (i: number) =>
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    for (let i = 0; i < 200; i++) record(i);
    await waitUntil(() => rig.events.length > 50, 10_000, 'the first events');
    await broker.stop('SIGKILL');
    for (let i = 200; i < 400; i++) record(i);
    await broker.resume();
    for (let i = 400; i < 600; i++) record(i);
    // Reconnecting adds events of its own (a time sync), so wait for the outbox, then count.
    await waitUntil(() => rig.link.status().outboxDepth === 0, 60_000, 'every event acknowledged');
    const last = lock.firmware.audit.lastSeq();
    expect(rig.link.status().ackedSeq).toBe(last);
    const stored = listEvents(rig.db, 'outage', 0, 10_000);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(rig.events.length).toBe(last); // each reached the application once
    const numbers = stored.filter((e) => e.type === 'test_event').map((e) => e.data.i as number);
    expect(numbers).toEqual(Array.from({ length: 600 }, (_, i) => i));
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
    const { lock } = rig;
    for (let i = 0; i < 250; i++)
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    const small = new SyncLink(lock.firmware, 'bounded', { ...rig.link.options, outboxMax: 100 });
    small.enforceBound();
    expect(small.status().outboxDepth).toBeLessThanOrEqual(101);
    const overflow = lock.firmware.audit.latest(1)[0]!;
    expect(overflow.type).toBe('outbox_overflow');
    expect(overflow.data).toMatchObject({ first_seq: 1 });
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
    const gatewayDb = openGatewayDb(join(tempDir(), 'gw.db'));
    addDevice(gatewayDb, 'unheard', lock.firmware.secret);
    const gateway = await GatewayClient.connect({ url: broker.url });
    try {
      link.start();
      for (let i = 0; i < 20; i++)
        lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
      // The lock publishes (and the broker PUBACKs) with nobody listening.
      await waitUntil(() => link.status().connected, 10_000, 'the lock to connect');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const heard: number[] = [];
      await new GatewayService(gateway, gatewayDb, { onEvent: (e) => heard.push(e.seq) }, 'unheard').start();
      await waitUntil(
        () => link.status().outboxDepth === 0,
        20_000,
        'the events to be published again and acknowledged',
      );
      expect(heard).toEqual(Array.from({ length: lock.firmware.audit.lastSeq() }, (_, i) => i + 1));
    } finally {
      await link.stop();
      await gateway.close();
      gatewayDb.close();
      await lock.close();
    }
  });
});
