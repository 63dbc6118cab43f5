import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvisioning, installProvisioning, writeProvisioning } from '../../firmware/provisioning.ts';
import { INITIAL_SYNC } from '../../firmware/sync/desired.ts';
import { signature } from '../../firmware/sync/envelope.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { PUBLISHER_TICK_MS } from '../../firmware/sync/publisher.ts';
import { REJECTION_INTERVAL_MS } from '../../firmware/sync/rejections.ts';
import { commandReplySchema, DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import {
  addDevice,
  deviceInfo,
  type GatewayDb,
  getDevice,
  lastAck,
  listEvents,
  openGatewayDb,
  type StoredEvent,
  takeCounter,
} from '../../gateway/store.ts';
import { driveInRealTime } from '../../hal/scheduler.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { startRig } from '../helpers/sync-rig.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A gateway (client + service) on an existing gateway database, closed after the test. */
async function startGateway(db: GatewayDb, device: string) {
  const client = await GatewayClient.connect({ url: broker.url });
  const events: StoredEvent[] = [];
  const warnings: string[] = [];
  await new GatewayService(
    client,
    db,
    { onEvent: (e) => events.push(e), onWarning: (w) => warnings.push(w) },
    device,
  ).start();
  onCleanup(() => client.close());
  return { client, events, warnings };
}

/** A lock on `dataDir` with its link, its clock following real time; stopped after the test. */
async function startLock(dataDir: string, deviceId: string) {
  const lock = await SimLock.create({ dataDir, config: { deviceId }, startEpochMs: Date.now() });
  const stopClock = driveInRealTime(lock.scheduler);
  const link = new SyncLink(lock.firmware, deviceId, {
    url: broker.url,
    outboxMax: 1000,
    window: 64,
    ackTimeoutMs: 1000,
    maxRoundTripMs: 2000,
    homeAssistant: { discovery: false, allowUnlock: false },
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    stopClock();
    await link.stop();
    await lock.close();
  };
  onCleanup(stop);
  return { lock, link, stop };
}

const rejections = (lock: SimLock) =>
  lock.firmware.audit
    .latest(10_000)
    .filter((r) => r.type === 'sync_rejected')
    .sort((a, b) => a.seq - b.seq)
    .map((r) => r.data);

describe('events are not lost to acks', () => {
  it('refuses an ack above the newest event issued; the events after it are still delivered', async () => {
    const rig = await startRig(broker, 'beyond', {}, { virtualTime: true });
    const { lock, channel } = rig;
    const record = (i: number) =>
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    for (let i = 0; i < 5; i++) record(i);
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'the first events acknowledged');
    await rig.gateway.close(); // the gateway is away while the next events are published
    const issued = lock.firmware.audit.lastSeq();
    const sender = await GatewayClient.connect({ url: broker.url });
    onCleanup(() => sender.close());
    const ack = channel.sign('events_ack', { seq: issued + 100, incarnation: lock.firmware.incarnation });
    await sender.mqtt.publishAsync(channel.topics.eventsAck, JSON.stringify(ack), { qos: 1 });
    await waitUntil(() => rejections(lock).length > 0, 10_000, 'the refusal');
    expect(rejections(lock)[0]).toMatchObject({ topic: 'events/ack', error: 'beyond_issued', count: 1 });
    expect(rig.link.status().ackedSeq).toBe(issued);
    for (let i = 5; i < 10; i++) record(i);
    const last = lock.firmware.audit.lastSeq();
    // The lock reconnects (a restart) and a gateway comes back: the lock publishes again
    // from its ack, which the refused one did not move.
    await rig.link.stop();
    const relinked = new SyncLink(lock.firmware, 'beyond', rig.link.options);
    onCleanup(() => relinked.stop());
    relinked.start();
    const back = await startGateway(rig.db, 'beyond');
    await waitUntil(
      async () => {
        await lock.advance(PUBLISHER_TICK_MS);
        return back.events.some((e) => e.seq === last);
      },
      10_000,
      'the later events',
    );
    expect(back.events.map((e) => e.seq)).toEqual(seqs(issued + 1, last));
  });

  it('a wiped and re-provisioned lock is a new incarnation: a replayed ack from its old life is refused, its seq 1 is stored, the operator is told', async () => {
    const device = 'reborn';
    const provisioning = join(tempDir(), 'reborn.provisioning.json');
    const record = createProvisioning(device);
    writeProvisioning(provisioning, record);
    const db = await openGatewayDb(join(tempDir(), 'gateway.db'));
    onCleanup(() => db.close());
    await addDevice(db, device, record.secret);
    const channel = new DeviceChannel(await getDevice(db, device));

    // First life: events delivered and acknowledged; an ack is captured off the broker.
    const lifeOneDir = tempDir();
    installProvisioning(lifeOneDir, provisioning);
    const one = await startLock(lifeOneDir, device);
    const firstGateway = await startGateway(db, device);
    const captured: Buffer[] = [];
    const capturedCommands: Buffer[] = [];
    firstGateway.client.mqtt.on('message', (topic, payload) => {
      if (topic === channel.topics.eventsAck) captured.push(payload);
      if (topic === channel.topics.cmd) capturedCommands.push(payload);
    });
    await firstGateway.client.mqtt.subscribeAsync([channel.topics.eventsAck, channel.topics.cmd], { qos: 1 });
    one.link.start();
    // A command of the first life, captured off the broker on its way.
    expect(
      await firstGateway.client.command(channel, await takeCounter(db, device), 'set_mode', {
        mode: 'passage',
      }),
    ).toMatchObject({ ok: true });
    await one.lock.firmware.manager.setMode('normal', 'test');
    await waitUntil(() => capturedCommands.length > 0, 10_000, 'a command on the wire');
    for (let i = 0; i < 10; i++)
      one.lock.firmware.manager.record('test_event', { life: 1, i }, one.lock.firmware.manager.wallNow());
    await waitUntil(() => one.link.status().outboxDepth === 0, 10_000, 'life one delivered');
    await waitUntil(() => captured.length > 0, 10_000, 'an ack on the wire');
    const oldIncarnation = one.lock.firmware.incarnation;
    const lifeOneLast = one.lock.firmware.audit.lastSeq();
    await firstGateway.client.close();
    await one.stop();

    // Second life from the same provisioning file, on a wiped data dir.
    const lifeTwoDir = tempDir();
    installProvisioning(lifeTwoDir, provisioning);
    const two = await startLock(lifeTwoDir, device);
    expect(two.lock.firmware.incarnation).not.toBe(oldIncarnation);
    two.link.start();
    await waitUntil(() => two.link.status().connected, 10_000, 'life two connected');
    for (let i = 0; i < 3; i++)
      two.lock.firmware.manager.record('test_event', { life: 2, i }, two.lock.firmware.manager.wallNow());
    const depth = two.link.status().outboxDepth;
    const attacker = await GatewayClient.connect({ url: broker.url });
    onCleanup(() => attacker.close());
    for (const payload of captured)
      await attacker.mqtt.publishAsync(channel.topics.eventsAck, payload, { qos: 1 });
    await waitUntil(() => rejections(two.lock).length > 0, 10_000, 'the replayed ack refused');
    expect(rejections(two.lock)[0]).toMatchObject({ topic: 'events/ack', error: 'wrong_incarnation' });
    expect(two.link.status().ackedSeq).toBe(0);
    expect(two.link.status().outboxDepth).toBeGreaterThanOrEqual(depth);
    // Its counter starts again at 0, but the first life's command names the old
    // incarnation: refused, the mode stays, and no counter is spent.
    await attacker.mqtt.subscribeAsync(channel.topics.cmdRes, { qos: 1 });
    const replayReply = attacker.waitFor(channel.topics.cmdRes, 10_000, (p) =>
      channel.open('cmd_res', p, commandReplySchema),
    );
    await attacker.mqtt.publishAsync(channel.topics.cmd, capturedCommands[0]!, { qos: 1 });
    expect(await replayReply).toMatchObject({ ok: false, error: 'wrong_incarnation' });
    expect(two.lock.firmware.manager.status().mode).toBe('normal');
    expect(two.lock.firmware.state.get('sync', INITIAL_SYNC).lastCounter).toBe(0);

    // The gateway takes the new incarnation as a new stream, from seq 1, and says so.
    const secondGateway = await startGateway(db, device);
    const lifeTwoLast = two.lock.firmware.audit.lastSeq();
    await waitUntil(() => two.link.status().ackedSeq >= lifeTwoLast, 20_000, 'life two acknowledged');
    expect(secondGateway.events[0]).toMatchObject({ seq: 1, incarnation: two.lock.firmware.incarnation });
    expect(secondGateway.events.filter((e) => e.type === 'test_event').map((e) => e.data)).toEqual([
      { life: 2, i: 0 },
      { life: 2, i: 1 },
      { life: 2, i: 2 },
    ]);
    expect(secondGateway.warnings.some((w) => /lock reset: new incarnation/.test(w))).toBe(true);
    expect(await deviceInfo(db, device)).toMatchObject({
      incarnation: two.lock.firmware.incarnation,
      note: expect.stringMatching(/^lock reset: new incarnation/),
    });
    // Both lives are kept, each under its own incarnation, with hashes that chain.
    const old = await listEvents(db, device, 0, 1000, oldIncarnation);
    expect(old.map((e) => e.seq)).toEqual(seqs(1, lifeOneLast));
    const current = await listEvents(db, device);
    expect(current.map((e) => e.seq)).toEqual(seqs(1, current.length));
    expect(current.every((e, i) => i === 0 || e.prevHash === current[i - 1]!.hash)).toBe(true);
    expect(current.some((e) => e.chainBreak)).toBe(false);
  });
});

describe('forgeries cannot crowd out real events', () => {
  it('a flood of forged messages writes one audit row per interval, and a real decision still reaches the gateway', async () => {
    const rig = await startRig(broker, 'flooded', {}, { virtualTime: true, link: { outboxMax: 40 } });
    const { lock, channel, db } = rig;
    await lock.firmware.admin.add({ name: 'owner', pin: '2468' }, 'test', lock.firmware.manager.wallNow());
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'the start-up events acknowledged');
    await rig.gateway.close(); // the gateway goes away; events queue on the lock
    await lock.press('2468#');
    const decision = lock.firmware.audit.latest(20).find((r) => r.type === 'decision')!;
    expect(decision.data).toMatchObject({ outcome: 'granted' });

    const attacker = await GatewayClient.connect({ url: broker.url });
    onCleanup(() => attacker.close());
    let replies = 0;
    attacker.mqtt.on('message', () => replies++);
    await attacker.mqtt.subscribeAsync(channel.topics.cmdRes, { qos: 1 });
    const FLOOD = 300;
    for (let i = 0; i < FLOOD; i++) {
      const body = {
        id: `f${i}`,
        name: 'unlock',
        args: {},
        counter: 1000 + i,
        expires_at: new Date().toISOString(),
      };
      const forged = { ...body, sig: signature(new Uint8Array(32), 'cmd', 'flooded', body) };
      await attacker.mqtt.publishAsync(channel.topics.cmd, JSON.stringify(forged), { qos: 0 });
      await attacker.mqtt.publishAsync(channel.topics.eventsAck, JSON.stringify({ seq: 1e9 }), { qos: 0 });
    }
    await waitUntil(() => replies >= FLOOD, 30_000, 'every forged command answered');
    rig.link.enforceBound();
    expect(rejections(lock)).toHaveLength(1);
    expect(rig.link.status().outboxDepth).toBeLessThanOrEqual(41);
    // At the end of the interval, one row sums up the rest.
    await lock.advance(REJECTION_INTERVAL_MS);
    const rows = rejections(lock);
    expect(rows.map((r) => r.count)).toEqual([1, 2 * FLOOD - 1]);
    expect(rows[1]).toMatchObject({
      error: 'bad_signature',
      last_topic: 'events/ack',
      last_error: 'bad_signature',
    });

    // A gateway comes back: the decision was never evicted, and arrives.
    const events: StoredEvent[] = [];
    const back = await GatewayClient.connect({ url: broker.url });
    onCleanup(() => back.close());
    await new GatewayService(back, db, { onEvent: (e) => events.push(e) }, 'flooded').start();
    await lock.advance(2 * PUBLISHER_TICK_MS);
    await waitUntil(() => events.some((e) => e.seq === decision.seq), 10_000, 'the decision delivered');
    expect(events.find((e) => e.seq === decision.seq)).toMatchObject({ type: 'decision' });
  });
});

describe('a gateway that is behind the lock', () => {
  it('a fresh or restored gateway learns the lock’s ack from its signed state and continues; no endless resend', async () => {
    const rig = await startRig(broker, 'restored', {}, { virtualTime: true });
    const { lock } = rig;
    const record = (i: number) =>
      lock.firmware.manager.record('test_event', { i }, lock.firmware.manager.wallNow());
    for (let i = 0; i < 30; i++) record(i);
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'delivered to the first gateway');
    expect(await rig.gateway.command(rig.channel, 41, 'get_status', {})).toMatchObject({ ok: true });
    await waitUntil(() => rig.link.status().outboxDepth === 0, 10_000, 'the command event delivered');
    const acked = rig.link.status().ackedSeq;
    await rig.gateway.close();

    // A gateway restored from an empty backup: same devices, no events, no acks, counter 1.
    const db = await openGatewayDb(join(tempDir(), 'restored.db'));
    onCleanup(() => db.close());
    await addDevice(db, 'restored', lock.firmware.secret);
    const restored = await startGateway(db, 'restored');
    for (let i = 30; i < 35; i++) record(i);
    const last = lock.firmware.audit.lastSeq();
    // Virtual time: each poll moves the lock's clock one publisher tick (its ack timeout is 2 s).
    await waitUntil(
      async () => {
        await lock.advance(PUBLISHER_TICK_MS);
        return rig.link.status().ackedSeq === last;
      },
      20_000,
      'the new events acknowledged',
    );
    expect(restored.events.map((e) => e.seq)).toEqual(seqs(acked + 1, last));
    expect(restored.warnings.some((w) => w.includes(`acknowledged events up to ${acked}`))).toBe(true);
    expect(await lastAck(db, 'restored')).toBe(last);
    // It continues its command counter above the lock's last accepted one.
    expect(await takeCounter(db, 'restored')).toBe(42);
  });
});
