import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncLink } from '../../firmware/sync/link.ts';
import { GatewayClient } from '../../gateway/client.ts';
import { createApiKey } from '../../gateway/seam/api-keys.ts';
import { openSeamStore } from '../../gateway/seam/store.ts';
import { addDevice, type GatewayDb, openGatewayDb } from '../../gateway/store.ts';
import { driveInRealTime } from '../../hal/scheduler.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { onCleanup, tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

const LOCKCTL = new URL('../../scripts/lockctl.js', import.meta.url).pathname;
const LOCKS = 20;
const EVENTS_PER_LOCK = 100;
const ROUNDS = 10;

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

interface Worker {
  child: ChildProcess;
  endpoint: string;
  output: () => string;
}

/** `lockctl serve` as one worker of group `fleet` on the test's PostgreSQL database. */
async function startWorker(db: string): Promise<Worker> {
  const child = spawn(
    process.execPath,
    [LOCKCTL, 'serve', '--http', '127.0.0.1:0', '--db', db, '--worker-group', 'fleet', '--mqtt', broker.url],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  onCleanup(() => stop(child, 'SIGTERM'));
  let endpoint = '';
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`lockctl serve exited:\n${text}`);
      const line = text.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) endpoint = (JSON.parse(line) as { url: string }).url;
      return endpoint !== '';
    },
    30_000,
    'a worker to listen',
  );
  return { child, endpoint, output: () => text };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** A simulated lock (real firmware, sim HAL, its clock following real time) with its MQTT link. */
async function startLock(deviceId: string) {
  const lock = await SimLock.create({ dataDir: tempDir(), config: { deviceId } });
  const stopClock = driveInRealTime(lock.scheduler);
  const link = new SyncLink(lock.firmware, deviceId, {
    url: broker.url,
    outboxMax: 10_000,
    window: 64,
    // Short, so what a killed worker held comes again soon (the lock resends what is not acked).
    ackTimeoutMs: 1000,
    maxRoundTripMs: 2000,
    homeAssistant: { discovery: false, allowUnlock: false },
  });
  onCleanup(async () => {
    stopClock();
    await link.stop();
    await lock.close();
  });
  return { deviceId, lock, link };
}

const storedCount = async (db: GatewayDb) =>
  (await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'test_event'"))!.n;

function lockctl(...args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LOCKCTL, ...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

describe('gateway workers on PostgreSQL with MQTT 5 shared subscriptions', () => {
  it('refuses a worker group without a shared PostgreSQL database, or with a name that is not a topic level, in one line', async () => {
    const dir = tempDir();
    const onFile = await lockctl(
      'serve',
      '--db',
      `${dir}/gateway.db`,
      '--worker-group',
      'gw',
      '--mqtt',
      broker.url,
    );
    expect(onFile.status).toBe(2);
    expect(onFile.stderr.trim().split('\n')).toEqual([
      "lockctl serve: --worker-group needs the workers' shared database: --db postgres://...",
    ]);
    const wildcard = await lockctl(
      'serve',
      '--db',
      'postgres://127.0.0.1/x',
      '--worker-group',
      'g/+',
      '--mqtt',
      broker.url,
    );
    expect(wildcard.status).toBe(2);
    expect(wildcard.stderr).toMatch(/--worker-group must be 1-64 letters, digits, _ or -, got "g\/\+"/);
    const both = await lockctl('serve', '--db', 'a.db', '--gateway-db', 'b.db');
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--db and --gateway-db name the same thing/);
  });

  it('three workers, one SIGKILLed and one restarted mid-stream: every event stored once, every ack at the last event, no revision or counter reused', async () => {
    const url = await testPostgresDatabase();
    const db = await openGatewayDb(url);
    onCleanup(() => db.close());
    const locks: Array<Awaited<ReturnType<typeof startLock>>> = [];
    for (let i = 0; i < LOCKS; i++) {
      const lock = await startLock(`w${String(i).padStart(2, '0')}`);
      await addDevice(db, lock.deviceId, lock.lock.firmware.secret);
      locks.push(lock);
    }
    const seam = await openSeamStore(url);
    onCleanup(() => seam.sql.close());
    const { key } = await createApiKey(seam.sql, 'workers test');

    const workers = [await startWorker(url), await startWorker(url), await startWorker(url)];
    for (const { link } of locks) link.start();
    await waitUntil(() => locks.every(({ link }) => link.status().connected), 20_000, 'every lock connected');

    // 2,000 events in rounds; after round 4 one worker is SIGKILLed (what it held unacked
    // comes again from the locks), after round 7 another is stopped and started again.
    for (let round = 0; round < ROUNDS; round++) {
      for (const { lock } of locks)
        for (let i = 0; i < EVENTS_PER_LOCK / ROUNDS; i++)
          lock.firmware.manager.record('test_event', { round, i }, lock.firmware.manager.wallNow());
      await new Promise((resolve) => setTimeout(resolve, 150));
      if (round === 4) await stop(workers[0]!.child, 'SIGKILL');
      if (round === 7) {
        await stop(workers[1]!.child, 'SIGTERM');
        workers[1] = await startWorker(url);
      }
    }
    const live = [workers[1]!, workers[2]!];

    // Pushes through different workers at once: each takes its own desired revision.
    const devices = await db.all<{ seam_device_id: string; device_id: string }>(
      "SELECT seam_device_id, device_id FROM seam_devices WHERE device_id = 'w00'",
    );
    expect(devices).toHaveLength(1);
    const created = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const response = await fetch(`${live[i % 2]!.endpoint}/access_codes/create`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            device_id: devices[0]!.seam_device_id,
            name: `guest ${i}`,
            code: `${4711 + i * 1111}`,
          }),
        });
        expect(response.status, await response.clone().text()).toBe(200);
        return ((await response.json()) as { access_code: { access_code_id: string } }).access_code
          .access_code_id;
      }),
    );

    // Commands through different workers at once: each takes its own counter (seen on the wire).
    const sniffer = await GatewayClient.connect({ url: broker.url });
    onCleanup(() => sniffer.close());
    const counters: number[] = [];
    sniffer.mqtt.on('message', (topic, payload) => {
      if (topic === 'lock/w00/cmd')
        counters.push((JSON.parse(payload.toString()) as { counter: number }).counter);
    });
    await sniffer.mqtt.subscribeAsync('lock/w00/cmd', { qos: 1 });
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const response = await fetch(`${live[i % 2]!.endpoint}/locks/unlock_door`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ device_id: devices[0]!.seam_device_id }),
        });
        expect(response.status, await response.clone().text()).toBe(200);
      }),
    );
    await waitUntil(() => counters.length >= 6, 20_000, 'six commands on the wire');
    expect(new Set(counters).size).toBe(counters.length);

    await waitUntil(
      () => locks.every(({ lock, link }) => link.status().ackedSeq === lock.firmware.audit.lastSeq()),
      45_000,
      'every lock acknowledged up to its last event',
    );
    expect(await storedCount(db)).toBe(LOCKS * EVENTS_PER_LOCK);
    for (const { deviceId, lock } of locks) {
      const last = lock.firmware.audit.lastSeq();
      const incarnation = lock.firmware.incarnation;
      const rows = await db.all<{ seq: number }>(
        'SELECT seq FROM events WHERE device_id = ? AND incarnation = ? ORDER BY seq',
        [deviceId, incarnation],
      );
      // Every event the lock issued, each once (the key is unique; nothing missing).
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      const ack = await db.get<{ seq: number }>(
        'SELECT seq FROM acks WHERE device_id = ? AND incarnation = ?',
        [deviceId, incarnation],
      );
      expect(ack?.seq).toBe(last);
      const numbers = (
        await db.all<{ data: string }>(
          "SELECT data FROM events WHERE device_id = ? AND type = 'test_event' ORDER BY seq",
          [deviceId],
        )
      ).map((r) => JSON.parse(r.data) as { round: number; i: number });
      expect(numbers).toHaveLength(EVENTS_PER_LOCK);
    }
    const revisions = await db.all<{ declared_revision: number }>(
      `SELECT declared_revision FROM seam_access_codes WHERE access_code_id IN (${created.map(() => '?').join(', ')})`,
      created,
    );
    expect(revisions).toHaveLength(8);
    expect(new Set(revisions.map((r) => r.declared_revision)).size).toBe(8);
  }, 120_000);
});
