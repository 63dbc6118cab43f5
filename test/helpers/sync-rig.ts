import { join } from 'node:path';
import type { ConfigInput } from '../../firmware/config.ts';
import type { LinkOptions } from '../../firmware/sync/context.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import {
  addDevice,
  type GatewayDb,
  getDevice,
  openGatewayDb,
  type StoredEvent,
} from '../../gateway/store.ts';
import { driveInRealTime } from '../../hal/scheduler.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import type { TestBroker } from './mosquitto.ts';
import { onCleanup, tempDir } from './tmp.ts';

export interface Rig {
  lock: SimLock;
  link: SyncLink;
  db: GatewayDb;
  gateway: GatewayClient;
  service: GatewayService;
  channel: DeviceChannel;
  events: StoredEvent[];
}

/**
 * A simulated lock with its MQTT link and a gateway (client, service, SQLite) on one broker.
 * The lock's virtual clock follows real time (as under `lockfw run --hal sim`) unless
 * `virtualTime` is set: then only `lock.advance` moves it (the link's timers included).
 */
export async function startRig(
  broker: TestBroker,
  deviceId = 'front',
  config: ConfigInput = {},
  {
    virtualTime = false,
    link: linkOptions = {},
  }: { virtualTime?: boolean; link?: Partial<LinkOptions> } = {},
): Promise<Rig> {
  const lock = await SimLock.create({ config: { deviceId, ...config }, startEpochMs: Date.now() });
  const stopClock = virtualTime ? () => undefined : driveInRealTime(lock.scheduler);
  const link = new SyncLink(lock.firmware, deviceId, {
    url: broker.url,
    outboxMax: 100_000,
    window: 64,
    ackTimeoutMs: 2000,
    maxRoundTripMs: 2000,
    homeAssistant: { discovery: true, allowUnlock: false },
    ...linkOptions,
  });
  const db = await openGatewayDb(join(tempDir(), 'gateway.db'));
  await addDevice(db, deviceId, lock.firmware.secret);
  const gateway = await GatewayClient.connect({ url: broker.url });
  const events: StoredEvent[] = [];
  const service = new GatewayService(gateway, db, { onEvent: (e) => events.push(e) });
  await service.start();
  const channel = new DeviceChannel(await getDevice(db, deviceId));
  // The gateway listens first: what the lock publishes at connect (its boot event) is not
  // published into the void, where only a resend after its ack timeout would bring it
  // (under virtualTime, never unless the test advances the lock's clock). The lock is
  // ready for commands once it has subscribed: it publishes its state right after.
  const subscribed = gateway.waitFor(channel.topics.state, 10_000, (payload) =>
    payload.length > 0 ? true : undefined,
  );
  link.start();
  await subscribed;
  const rig = { lock, link, db, gateway, service, channel, events };
  onCleanup(async () => {
    stopClock();
    await link.stop();
    // Forced: the test may have killed the broker already, and a polite end would wait
    // for acks that can no longer come.
    await gateway.mqtt.endAsync(true);
    await lock.close();
    await db.close();
  });
  return rig;
}
