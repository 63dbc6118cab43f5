import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandReplySchema } from '../../gateway/client.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { startRig } from '../helpers/sync-rig.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

describe('gateway time sync follows the one clock-correction rule', () => {
  it('cannot move the clock back beyond the floor tolerance on its own: refused, audited, nothing changes', async () => {
    const rig = await startRig(broker, 'backlock');
    const { lock, gateway, channel } = rig;
    // The lock once trusted a time 30 days ahead of the gateway's; then its RTC died.
    const ahead = Date.now() + 30 * 86_400_000;
    const set = await lock.firmware.manager.setTime(ahead, 'technician', 'test');
    expect(set.verdict).toMatchObject({ ok: true });
    lock.hal.rtc.loseBattery();
    await lock.firmware.manager.refreshClock();

    await gateway.mqtt.subscribeAsync(channel.topics.cmdRes, { qos: 1 });
    const reply = gateway.waitFor(channel.topics.cmdRes, 10_000, (p) =>
      channel.open('cmd_res', p, commandReplySchema),
    );
    const cmd = channel.sign('cmd', {
      id: 'back-1',
      name: 'time_sync',
      args: {},
      counter: 1,
      expires_at: new Date(Date.now() + 60_000).toISOString(),
      incarnation: lock.firmware.incarnation,
    });
    await gateway.mqtt.publishAsync(channel.topics.cmd, JSON.stringify(cmd), { qos: 1 });
    expect(await reply).toMatchObject({ ok: false, error: 'backward_unconfirmed' });
    expect(lock.firmware.manager.status().clockTrusted).toBe(false);
    expect(lock.firmware.clock.snapshot().highWater).toBeGreaterThanOrEqual(ahead);
    const refused = lock.firmware.audit.latest(20).find((row) => row.type === 'clock_backward_refused');
    expect(refused?.data).toMatchObject({ source: 'gateway', by: 'gateway' });
  });
});
