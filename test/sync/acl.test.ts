import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBroker } from '../helpers/mosquitto.ts';

// The example configuration from docs/mosquitto: password file and per-device ACL.
let broker: TestBroker;
let dir: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tumbler-acl-'));
  const passwd = join(dir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', passwd, 'lockA', 'secret-a']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'lockB', 'secret-b']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'gateway', 'secret-g']);
  execFileSync('mosquitto_passwd', ['-b', passwd, 'homeassistant', 'secret-h']);
  const acl = join(dir, 'tumbler.acl');
  copyFileSync(new URL('../../docs/mosquitto/tumbler.acl', import.meta.url), acl);
  broker = await TestBroker.start({
    extraConfig: ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`],
  });
});

afterAll(async () => {
  for (const client of clients) await client.endAsync().catch(() => undefined);
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function login(username: string, password: string): Promise<MqttClient> {
  const client = await connectAsync(broker.url, {
    username,
    password,
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  clients.push(client);
  return client;
}

function received(client: MqttClient, topic: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  client.on('message', (t, payload) => {
    if (t === topic) seen.push(payload.toString());
  });
  return new Promise((resolve) => setTimeout(() => resolve(seen), ms));
}

describe('example Mosquitto ACL', () => {
  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
    await expect(
      connectAsync(broker.url, {
        username: 'lockA',
        password: 'nope',
        reconnectPeriod: 0,
        connectTimeout: 3000,
      }),
    ).rejects.toThrow();
  });

  it("lets a lock use its own topics and neither read nor write another lock's", async () => {
    const lockA = await login('lockA', 'secret-a');
    const lockB = await login('lockB', 'secret-b');
    const gateway = await login('gateway', 'secret-g');

    // lockA reads its own cmd topic; a subscription to lockB's delivers nothing (Mosquitto
    // 2.0 grants it and filters every message by the ACL).
    await lockA.subscribeAsync('lock/lockA/cmd', { qos: 1 });
    await lockA.subscribeAsync('lock/lockB/cmd', { qos: 1 });
    const aSeesB = received(lockA, 'lock/lockB/cmd', 600);
    const aSeesOwn = received(lockA, 'lock/lockA/cmd', 600);
    await gateway.publishAsync('lock/lockB/cmd', 'for B', { qos: 1 });
    await gateway.publishAsync('lock/lockA/cmd', 'for A', { qos: 1 });
    expect(await aSeesB).toEqual([]);
    expect(await aSeesOwn).toEqual(['for A']);

    // lockA cannot write into lockB's topics: the gateway never sees it.
    await gateway.subscribeAsync('lock/+/events', { qos: 1 });
    const gatewaySees = received(gateway, 'lock/lockB/events', 600);
    const gatewaySeesA = received(gateway, 'lock/lockA/events', 600);
    await lockA.publishAsync('lock/lockB/events', 'forged by A', { qos: 1 });
    await lockA.publishAsync('lock/lockA/events', 'from A', { qos: 1 });
    await lockB.publishAsync('lock/lockB/events', 'from B', { qos: 1 });
    expect(await gatewaySees).toEqual(['from B']);
    expect(await gatewaySeesA).toEqual(['from A']);
  });

  it('gives Home Assistant its own user: the lock entity topics and its birth topic, nothing else', async () => {
    const ha = await login('homeassistant', 'secret-h');
    const gateway = await login('gateway', 'secret-g');
    const lockA = await login('lockA', 'secret-a');

    // Reads: each publisher sends the topics Home Assistant may not read first and one it
    // may read last; once all the readable ones have arrived, a refused one would have too.
    const readable = [
      'homeassistant/status',
      'homeassistant/lock/tumbler_lockA/config',
      'lock/lockA/availability',
      'lock/lockA/ha/state',
      'lock/lockA/ha/attributes',
    ];
    const unreadable = [
      'lock/lockA/state',
      'lock/lockA/events',
      'lock/lockA/cmd',
      'lock/lockA/cmd/res',
      'lock/lockA/desired/codes',
      'lock/lockA/reported/codes',
      'lock/lockA/events/ack',
      'lock/lockA/time/req',
      'lock/lockB/ha/set',
    ];
    const seen = new Set<string>();
    const allReadable = new Promise<void>((resolve) =>
      ha.on('message', (topic) => {
        seen.add(topic);
        if (readable.every((t) => seen.has(t))) resolve();
      }),
    );
    await ha.subscribeAsync(['#'], { qos: 1 });
    for (const topic of [...unreadable, ...readable.filter((t) => t.startsWith('lock/'))])
      await gateway.publishAsync(topic, 'x', { qos: 1 });
    await lockA.publishAsync('homeassistant/lock/tumbler_lockA/config', '{}', { qos: 1 });
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await allReadable;
    expect([...seen].sort()).toEqual([...readable].sort());

    // Writes: Home Assistant publishes everywhere, the ha/set last; the gateway (which may
    // read all of lock/# and homeassistant/#) sees only what the ACL let through.
    const gatewaySees = new Set<string>();
    gateway.on('message', (topic) => gatewaySees.add(topic));
    await gateway.subscribeAsync(['lock/#', 'homeassistant/#'], { qos: 1 });
    const setArrived = new Promise<void>((resolve) =>
      gateway.on('message', (topic) => topic === 'lock/lockA/ha/set' && resolve()),
    );
    const forbidden = [
      'lock/lockA/cmd',
      'lock/lockA/desired/codes',
      'lock/lockA/events/ack',
      'lock/lockA/ha/state',
      'lock/lockA/availability',
      'lock/lockA/time/res',
      'homeassistant/lock/tumbler_lockA/config',
    ];
    gatewaySees.clear();
    for (const topic of [...forbidden, 'homeassistant/status', 'lock/lockA/ha/set'])
      await ha.publishAsync(topic, 'from ha', { qos: 1 });
    await setArrived;
    expect([...gatewaySees].sort()).toEqual(['homeassistant/status', 'lock/lockA/ha/set']);
  });
});
