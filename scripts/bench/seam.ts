import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectAsync } from 'mqtt';
import { deriveDeviceKeys } from '../../firmware/provisioning.ts';
import { noDelay } from '../../firmware/sync/connection.ts';
import { sign } from '../../firmware/sync/envelope.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { encryptPin, pinKey } from '../../firmware/sync/pin-crypto.ts';
import { topicsFor } from '../../firmware/sync/topics.ts';
import { accessCodeById, accessCodeState, createAccessCode } from '../../gateway/seam/access-codes.ts';
import { createApiKey } from '../../gateway/seam/api-keys.ts';
import { deviceByLockId } from '../../gateway/seam/devices.ts';
import { serveGateway } from '../../gateway/serve.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { LocalBroker } from '../support/broker.ts';
import { benchDir, median, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * The Seam API against the same work done bare, in the same run:
 * - create-to-set: `POST /access_codes/create` on the gateway's HTTP API until the
 *   gateway holds the lock's report that the code is set (the gateway commits the code,
 *   publishes the signed desired/codes, the in-process sim lock applies it and reports),
 *   against a bare round trip: a signed desired/codes with one more code published with
 *   raw MQTT.js straight to a second lock, until its signed reported/codes for that
 *   revision arrives at a raw subscriber;
 * - list: `POST /access_codes/list` of 1,000 codes through the gateway's Fastify server
 *   (`inject`: every hook, the route, the query, the Seam objects and their
 *   serialization, no socket), against the raw query of the same rows plus JSON.stringify.
 */

const CREATE_TARGET = 2;
const LIST_TARGET = 3;

export interface SeamBenchOptions {
  /** Codes created (and bare round trips) measured (default 100). */
  creates?: number;
  /** List requests measured (default 50). */
  lists?: number;
  /** Codes in the listed lock (default 1,000). */
  listed?: number;
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function startLock(dir: string, deviceId: string, url: string) {
  mkdirSync(dir);
  const lock = await SimLock.create({ dataDir: dir, config: { deviceId, codeCapacity: 20_000 } });
  const link = new SyncLink(lock.firmware, deviceId, {
    url,
    outboxMax: 10_000,
    window: 64,
    ackTimeoutMs: 10_000,
    maxRoundTripMs: 2000,
    homeAssistant: { discovery: false, allowUnlock: false },
  });
  link.start();
  await waitFor(() => link.status().connected, 10_000, `${deviceId} to connect`);
  return {
    lock,
    close: async () => {
      await link.stop();
      await lock.close();
    },
  };
}

const pinFor = (i: number) => String(100_000 + i);

/** Bare: ms per signed desired/codes published by raw MQTT.js until the lock's report of it arrives. */
async function bareRoundTrips(
  url: string,
  lock: SimLock,
  deviceId: string,
  count: number,
): Promise<number[]> {
  const topics = topicsFor(deviceId);
  const signing = deriveDeviceKeys(lock.firmware.secret).signing;
  const key = pinKey(lock.firmware.secret);
  const client = await connectAsync(url, { clientId: `bench-bare-${process.pid}`, clean: true });
  noDelay(client); // as the gateway's client does: no Nagle delay on small publishes
  let reported = 0;
  client.on('message', (_topic, payload) => {
    if (payload.length === 0) return;
    reported = Math.max(reported, (JSON.parse(payload.toString()) as { revision: number }).revision);
  });
  await client.subscribeAsync(topics.reportedCodes, { qos: 1 });
  const codes: Array<Record<string, unknown>> = [];
  const times: number[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const started = performance.now();
      const ref = `bare-${i}`;
      codes.push({
        ref,
        name: `guest ${i}`,
        kind: 'ongoing',
        pin_enc: encryptPin(key, deviceId, ref, pinFor(i)),
      });
      const doc = sign(signing, 'desired_codes', deviceId, {
        revision: i,
        issued_at: new Date().toISOString(),
        codes,
      });
      await client.publishAsync(topics.desiredCodes, JSON.stringify(doc), { qos: 1, retain: true });
      await waitFor(() => reported >= i, 10_000, 'the bare report');
      times.push(performance.now() - started);
    }
    return times;
  } finally {
    await client.endAsync();
  }
}

export async function benchSeam(options: SeamBenchOptions = {}): Promise<BenchRow[]> {
  const creates = options.creates ?? 100;
  const lists = options.lists ?? 50;
  const listed = options.listed ?? 1000;
  const { dir, remove } = benchDir('seam');
  const broker = await LocalBroker.start();
  try {
    const deviceId = 'bench-seam';
    const lockDir = join(dir, 'lock');
    const { lock, close: closeLock } = await startLock(lockDir, deviceId, broker.url);
    // The bare lock is registered with the gateway too, so both locks live alike (events
    // acknowledged, time answered, codes listed after each report); only who publishes
    // desired/codes differs.
    const bareId = 'bench-bare';
    const bareLock = await startLock(join(dir, 'bare'), bareId, broker.url);
    const dbPath = join(dir, 'gateway.db');
    const setup = await openGatewayDb(dbPath);
    await addDevice(setup, deviceId, lock.firmware.secret);
    await addDevice(setup, bareId, bareLock.lock.firmware.secret);
    await addDevice(setup, 'bench-list', new Uint8Array(32).fill(7));
    await setup.close();
    const running = await serveGateway({ dbPath, broker: { url: broker.url }, host: '127.0.0.1', port: 0 });
    const store = running.gateway.store;
    const { key } = await createApiKey(store.sql, 'bench');
    /** The answer's text once it is all received (parsing it is the client's work, not timed). */
    const request = async (path: string, body: unknown) => {
      const response = await fetch(`${running.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`bench: ${path} answered ${response.status}: ${text}`);
      return text;
    };
    const post = async (path: string, body: unknown) =>
      JSON.parse(await request(path, body)) as Record<string, unknown>;
    try {
      const seamDeviceId = (await deviceByLockId(store, deviceId))!.seam_device_id;
      await waitFor(
        async () => (await deviceByLockId(store, deviceId))!.online === 1,
        10_000,
        'the lock online at the gateway',
      );
      const ours: number[] = [];
      for (let i = 1; i <= creates; i++) {
        const started = performance.now();
        const answer = await post('/access_codes/create', {
          device_id: seamDeviceId,
          name: `guest ${i}`,
          code: pinFor(i),
        });
        const id = (answer.access_code as { access_code_id: string }).access_code_id;
        await waitFor(
          async () =>
            accessCodeState((await accessCodeById(store, id))!, (await deviceByLockId(store, deviceId))!)
              .status === 'set',
          10_000,
          'the code to be set',
        );
        ours.push(performance.now() - started);
      }
      const bare = await bareRoundTrips(broker.url, bareLock.lock, bareId, creates);
      // The first of each warms JIT and connections.
      const oursMs = median(ours.slice(1));
      const bareMs = median(bare.slice(1));

      // 1,000 codes on a lock that is not connected: what is listed is what is stored.
      const listDevice = (await deviceByLockId(store, 'bench-list'))!;
      for (let i = 0; i < listed; i++)
        await createAccessCode(store, (await deviceByLockId(store, 'bench-list'))!, {
          name: `guest ${i}`,
          code: String(1_000_000 + i),
          startsAt: null,
          endsAt: null,
          isOneTimeUse: false,
          allowExternalModification: false,
        });
      const listMs: number[] = [];
      const rawMs: number[] = [];
      const query = () =>
        store.sql.all('SELECT * FROM seam_access_codes WHERE device_id = ? ORDER BY created_at', [
          'bench-list',
        ]);
      const listBody = { device_id: listDevice.seam_device_id };
      const first = await post('/access_codes/list', listBody);
      if ((first.access_codes as unknown[]).length !== listed) throw new Error('bench: list is short');
      for (let i = 0; i < lists + 1; i++) {
        // Through the whole Fastify pipeline (auth hook, routing, body check, query, Seam
        // objects, serialization, access log), without a socket: the HTTP client sharing
        // this process would otherwise be timed too.
        const started = performance.now();
        const answer = await running.server.inject({
          method: 'POST',
          url: '/access_codes/list',
          payload: listBody,
          headers: { authorization: `Bearer ${key}` },
        });
        if (answer.statusCode !== 200) throw new Error(`bench: list answered ${answer.statusCode}`);
        listMs.push(performance.now() - started);
        const rawStarted = performance.now();
        JSON.stringify(await query());
        rawMs.push(performance.now() - rawStarted);
      }
      const listOurs = median(listMs.slice(1));
      const listRaw = median(rawMs.slice(1));
      const createRatio = oursMs / bareMs;
      const listRatio = listOurs / listRaw;
      return [
        {
          name: `access_codes/create to set, median of ${creates - 1}`,
          value: round(oursMs),
          unit: 'ms',
          baselineName:
            'a signed desired/codes with one more code, raw MQTT.js to the same sim lock code, until its reported/codes arrives',
          baseline: round(bareMs),
          ratio: round(createRatio),
          target: `<= ${CREATE_TARGET}x bare`,
          pass: createRatio <= CREATE_TARGET,
        },
        {
          name: `access_codes/list of ${listed.toLocaleString('en')} codes through the server (inject), median of ${lists}`,
          value: round(listOurs),
          unit: 'ms',
          baselineName: 'the raw SQLite query of the same rows (gateway/db/sql.ts) plus JSON.stringify',
          baseline: round(listRaw),
          ratio: round(listRatio),
          target: `<= ${LIST_TARGET}x raw`,
          pass: listRatio <= LIST_TARGET,
        },
      ];
    } finally {
      await running.close();
      await closeLock();
      await bareLock.close();
    }
  } finally {
    await broker.close();
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await benchSeam()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
}
