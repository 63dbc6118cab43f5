import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { sign } from '../../firmware/sync/envelope.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { LocalBroker } from '../support/broker.ts';
import { benchDir, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * Outbox drain: N events queued in a lock's SQLite outbox (a lock back online after a
 * busy outage), from SyncLink.start() until the gateway (GatewayService: verifies,
 * stores each event in its SQLite file, acknowledges) has acknowledged the last one and
 * the lock has deleted it. Against raw MQTT.js on the same Mosquitto: a client
 * publishing N payloads of the same size at QoS 1 with the same window (64 in flight)
 * to a raw subscriber, until the subscriber holds them all and every PUBACK is in.
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

/** Our path: ms from link start until the last event is acknowledged and deleted on the lock. */
async function drainOurs(url: string, dir: string, count: number): Promise<{ ms: number; bytes: number }> {
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

  const db = openGatewayDb(join(dir, 'gateway.db'));
  addDevice(db, DEVICE, firmware.secret);
  const gateway = await GatewayClient.connect({ url });
  const service = new GatewayService(gateway, db);
  await service.start();
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
    await gateway.close();
    db.close();
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
    mkdirSync(join(dir, 'warm'));
    const { bytes } = await drainOurs(broker.url, join(dir, 'warm'), warm);
    await drainRaw(broker.url, warm, bytes);
    const raw = await drainRaw(broker.url, count, bytes);
    mkdirSync(join(dir, 'run'));
    const ours = await drainOurs(broker.url, join(dir, 'run'), count);
    const rawRate = count / (raw / 1000);
    const ourRate = count / (ours.ms / 1000);
    const ratio = ourRate / rawRate;
    return [
      {
        name: `outbox drain, ${count.toLocaleString('en')} events`,
        value: Math.round(ourRate),
        unit: 'events/s',
        baselineName: `raw MQTT.js QoS 1, ${ours.bytes}-byte payloads, window ${WINDOW}, to a raw subscriber; ours SyncLink to GatewayService until acked and deleted`,
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
