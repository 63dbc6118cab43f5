import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { deriveDeviceKeys } from '../../firmware/provisioning.ts';
import { sign } from '../../firmware/sync/envelope.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { topicsFor } from '../../firmware/sync/topics.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { LocalBroker } from '../support/broker.ts';
import { benchDir, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * Outbox drain, the lock's side: N events queued in a lock's SQLite outbox (a lock back
 * online after a busy outage), from SyncLink.start() until the last one is acknowledged
 * and the lock's ack point has reached it. The receiver is a raw MQTT.js subscriber that
 * reads each event's seq and sends a signed cumulative ack per half window of events
 * (what a gateway must do at least), so the row measures the lock, not a gateway's storage.
 * Against raw MQTT.js on the same Mosquitto: a client publishing N payloads of the same
 * size at QoS 1 with the same window (64 in flight) to a raw subscriber, until the
 * subscriber holds them all and every PUBACK is in.
 *
 * The reference gateway (GatewayService: verifies each event, checks the chain, stores
 * it in its SQLite file, then acknowledges) drains the same outbox more slowly: its own
 * commits are the limit there (measured with the lock side unchanged). Its rate is
 * printed in the row's baseline text, for comparison, and is not judged here.
 */

const TARGET = 0.5;
const WINDOW = 64;
const DEVICE = 'bench';

export interface OutboxOptions {
  /** Events to drain (default 5,000). */
  events?: number;
}

/** A decision event's data, as the lock writes it. */
const decisionData = (i: number) => ({
  outcome: i % 4 ? 'granted' : 'denied',
  reason: i % 4 ? null : 'unknown_code',
  code_id: i % 4 ? 1 + (i % 50) : null,
  code_name: i % 4 ? `guest ${i % 50}` : null,
  kind: i % 4 ? 'ongoing' : null,
  role: i % 4 ? 'standard' : null,
  source: 'keypad',
  clock_trusted: true,
  detail: null,
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * The least a gateway does: reads each event's seq and sends a signed cumulative ack
 * for every half window of events, and for the last ones once none came for 2 ms.
 */
async function rawAcker(url: string, secret: Uint8Array, incarnation: string): Promise<() => Promise<void>> {
  const topics = topicsFor(DEVICE);
  const key = deriveDeviceKeys(secret).signing;
  const client = await connectAsync(url, { clientId: `bench-acker-${process.pid}`, clean: true });
  let highest = 0;
  let acked = 0;
  let idle: NodeJS.Timeout | undefined;
  const ack = () => {
    clearTimeout(idle);
    acked = highest;
    const body = sign(key, 'events_ack', DEVICE, { seq: highest, incarnation });
    client.publish(topics.eventsAck, JSON.stringify(body), { qos: 1 });
  };
  client.on('message', (_topic, payload) => {
    const seq = (JSON.parse(payload.toString('utf8')) as { seq: number }).seq;
    if (seq > highest) highest = seq;
    if (highest - acked >= WINDOW / 2) ack();
    else {
      clearTimeout(idle);
      idle = setTimeout(ack, 2);
    }
  });
  await client.subscribeAsync(topics.events, { qos: 1 });
  return async () => {
    clearTimeout(idle);
    await client.endAsync();
  };
}

/** The reference gateway as the receiver: GatewayService on its own SQLite file. */
async function gatewayReceiver(url: string, dir: string, secret: Uint8Array): Promise<() => Promise<void>> {
  const db = await openGatewayDb(join(dir, 'gateway.db'));
  await addDevice(db, DEVICE, secret);
  const gateway = await GatewayClient.connect({ url });
  const service = new GatewayService(gateway, db);
  await service.start();
  return async () => {
    await gateway.close();
    await db.close();
  };
}

type Receiver = 'raw' | 'gateway';

/** Our path: ms from link start until the last event is acknowledged on the lock. */
async function drainOurs(
  url: string,
  dir: string,
  count: number,
  receiver: Receiver,
): Promise<{ ms: number; bytes: number }> {
  mkdirSync(join(dir, 'lock'));
  const lock = await SimLock.create({ dataDir: join(dir, 'lock'), config: { deviceId: DEVICE } });
  const { firmware } = lock;
  const at = lock.hal.rtc.peek().epochMs;
  firmware.db.transaction(() => {
    for (let i = 0; i < count; i++) firmware.audit.append('decision', decisionData(i), at + i);
  })();
  const lastSeq = firmware.audit.lastSeq();
  const sample = firmware.audit.latest(1)[0]!;
  const bytes = JSON.stringify(
    sign(new Uint8Array(32), 'event', DEVICE, {
      device_id: DEVICE,
      incarnation: firmware.incarnation,
      boot_id: firmware.bootId,
      seq: sample.seq,
      prev_seq: sample.seq - 1,
      at: new Date(sample.at).toISOString(),
      type: sample.type,
      data: sample.data,
      hash: sample.hash,
      prev_hash: sample.prevHash,
    }),
  ).length;

  const stopReceiver =
    receiver === 'raw'
      ? await rawAcker(url, firmware.secret, firmware.incarnation)
      : await gatewayReceiver(url, dir, firmware.secret);
  const link = new SyncLink(firmware, DEVICE, {
    url,
    outboxMax: count + 1000,
    window: WINDOW,
    ackTimeoutMs: 10_000,
    maxRoundTripMs: 2000,
    homeAssistant: { discovery: false, allowUnlock: false },
  });
  try {
    const started = performance.now();
    link.start();
    await waitFor(() => firmware.audit.chainState().acked >= lastSeq, 120_000, 'the outbox to drain');
    const ms = performance.now() - started;
    if (link.status().outboxDepth !== 0) throw new Error('bench: acknowledged events are still queued');
    return { ms, bytes };
  } finally {
    await link.stop();
    await stopReceiver();
    await lock.close();
  }
}

/** Raw MQTT.js: ms from connect until a subscriber holds all `count` payloads and every PUBACK is in. */
async function drainRaw(url: string, count: number, bytes: number): Promise<number> {
  const topic = 'bench/raw/events';
  const payload = Buffer.alloc(bytes, 0x61);
  const subscriber = await connectAsync(url, { clientId: `bench-sub-${process.pid}`, clean: true });
  let received = 0;
  subscriber.on('message', () => {
    received++;
  });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  let publisher: MqttClient | undefined;
  try {
    const started = performance.now();
    publisher = await connectAsync(url, { clientId: `bench-pub-${process.pid}`, clean: true });
    const client = publisher;
    let sent = 0;
    let acked = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = () => {
        while (sent < count && sent - acked < WINDOW) {
          sent++;
          client.publish(topic, payload, { qos: 1 }, (error) => {
            if (error) return reject(error);
            acked++;
            if (acked === count) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    await waitFor(() => received >= count, 60_000, 'the raw subscriber');
    return performance.now() - started;
  } finally {
    await publisher?.endAsync();
    await subscriber.endAsync();
  }
}

export async function benchOutbox(options: OutboxOptions = {}): Promise<BenchRow[]> {
  const count = options.events ?? 5000;
  const { dir, remove } = benchDir('outbox');
  const broker = await LocalBroker.start();
  try {
    // Warm both paths once (JIT, broker), then measure.
    const warm = Math.min(200, count);
    const drain = async (name: string, receiver: Receiver, events: number) => {
      mkdirSync(join(dir, name));
      return drainOurs(broker.url, join(dir, name), events, receiver);
    };
    const { bytes } = await drain('warm', 'raw', warm);
    await drainRaw(broker.url, warm, bytes);
    // Interleaved, twice, the better of each counting: a load spike on the shared
    // machine then has to hit both of one side's runs to move its figure.
    const rawMs: number[] = [];
    const ourMs: number[] = [];
    for (let round = 0; round < 2; round++) {
      rawMs.push(await drainRaw(broker.url, count, bytes));
      ourMs.push((await drain(`run-${round}`, 'raw', count)).ms);
    }
    const gateway = await drain('gateway', 'gateway', count);
    const rawRate = count / (Math.min(...rawMs) / 1000);
    const ourRate = count / (Math.min(...ourMs) / 1000);
    const gatewayRate = count / (gateway.ms / 1000);
    const ratio = ourRate / rawRate;
    return [
      {
        name: `outbox drain, ${count.toLocaleString('en')} events`,
        value: Math.round(ourRate),
        unit: 'events/s',
        baselineName: `raw MQTT.js QoS 1, ${bytes}-byte payloads, window ${WINDOW}, to a raw subscriber; ours SyncLink to a raw subscriber sending signed cumulative acks, until the lock holds the last ack (best of 2 each); the reference gateway (GatewayService, its SQLite commits) drains at ${Math.round(gatewayRate).toLocaleString('en')} events/s`,
        baseline: Math.round(rawRate),
        ratio: round(ratio),
        target: `>= ${TARGET}x raw`,
        pass: ratio >= TARGET,
      },
    ];
  } finally {
    await broker.close();
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const row of await benchOutbox()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
