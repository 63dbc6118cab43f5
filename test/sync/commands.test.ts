import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signature } from '../../firmware/sync/envelope.ts';
import { commandReplySchema } from '../../gateway/client.ts';
import { TestBroker } from '../helpers/mosquitto.ts';
import { type Rig, startRig } from '../helpers/sync-rig.ts';
import { waitUntil } from '../helpers/wait.ts';

let broker: TestBroker;
beforeAll(async () => {
  broker = await TestBroker.start();
});
afterAll(async () => {
  await broker.close();
});

/** Publishes a raw payload on the lock's cmd topic and returns the next signed reply. */
async function rawCommand(
  rig: Rig,
  payload: string | Buffer,
  match: (reply: { id: string | null }) => boolean = () => true,
) {
  const { gateway, channel } = rig;
  await gateway.mqtt.subscribeAsync(channel.topics.cmdRes, { qos: 1 });
  const reply = gateway.waitFor(channel.topics.cmdRes, 10_000, (p) => {
    const opened = channel.open('cmd_res', p, commandReplySchema);
    return opened && match(opened) ? opened : undefined;
  });
  await gateway.mqtt.publishAsync(channel.topics.cmd, payload, { qos: 1 });
  return reply;
}

const command = (
  rig: Rig,
  counter: number,
  name: string,
  args: Record<string, unknown> = {},
  expiresInMs = 60_000,
) =>
  rig.channel.sign('cmd', {
    id: `t${counter}-${name}`,
    name,
    args,
    counter,
    expires_at: new Date(Date.now() + expiresInMs).toISOString(),
    incarnation: rig.lock.firmware.incarnation,
  });

describe('signed commands', () => {
  it('runs a good command once and refuses forged, replayed, expired and malformed ones without changing anything', async () => {
    const rig = await startRig(broker, 'cmdlock');
    const { lock } = rig;
    const auditBefore = () => lock.firmware.codes.count();

    const ok = await rawCommand(rig, JSON.stringify(command(rig, 1, 'set_mode', { mode: 'vacation' })));
    expect(ok).toMatchObject({ id: 't1-set_mode', ok: true, result: { mode: 'vacation' } });
    expect(lock.firmware.manager.status().mode).toBe('vacation');

    const replay = await rawCommand(rig, JSON.stringify(command(rig, 1, 'set_mode', { mode: 'normal' })));
    expect(replay).toMatchObject({ ok: false, error: 'replayed' });
    const expired = await rawCommand(
      rig,
      JSON.stringify(command(rig, 2, 'set_mode', { mode: 'normal' }, -60_000)),
    );
    expect(expired).toMatchObject({ ok: false, error: 'expired' });
    const tooFar = await rawCommand(
      rig,
      JSON.stringify(command(rig, 3, 'set_mode', { mode: 'normal' }, 3_600_000)),
    );
    expect(tooFar).toMatchObject({ ok: false, error: 'expiry_too_far' });

    const forged = { ...command(rig, 4, 'set_mode', { mode: 'normal' }) };
    forged.sig = signature(new Uint8Array(32), 'cmd', 'cmdlock', { ...forged, sig: undefined } as Record<
      string,
      unknown
    >);
    expect(await rawCommand(rig, JSON.stringify(forged))).toMatchObject({
      id: 't4-set_mode',
      ok: false,
      error: 'bad_signature',
    });
    const unsigned = { ...command(rig, 5, 'unlock') } as Record<string, unknown>;
    delete unsigned.sig;
    expect(await rawCommand(rig, JSON.stringify(unsigned))).toMatchObject({
      ok: false,
      error: 'bad_signature',
    });
    // A signature for another topic (an events ack) does not pass as a command.
    const { sig: _ignored, ...crossBody } = command(rig, 6, 'unlock');
    const crossKind = { ...crossBody, sig: rig.channel.sign('events_ack', crossBody).sig };
    expect(await rawCommand(rig, JSON.stringify(crossKind))).toMatchObject({
      ok: false,
      error: 'bad_signature',
    });

    expect(await rawCommand(rig, '{not json')).toMatchObject({ id: null, ok: false, error: 'bad_json' });
    expect(await rawCommand(rig, '[1,2]')).toMatchObject({ ok: false, error: 'bad_json' });
    expect(await rawCommand(rig, Buffer.alloc(1024 * 1024 + 1, 0x20))).toMatchObject({
      ok: false,
      error: 'too_large',
    });
    const wrongTypes = rig.channel.sign('cmd', {
      id: 'w',
      name: 'unlock',
      args: {},
      counter: 'seven',
      expires_at: 'soon',
    });
    const wrong = await rawCommand(rig, JSON.stringify(wrongTypes));
    expect(wrong).toMatchObject({ id: 'w', ok: false, error: 'invalid' });
    expect(wrong.message).toMatch(/counter/);
    const badArgs = await rawCommand(rig, JSON.stringify(command(rig, 7, 'set_mode', { mode: 'party' })));
    expect(badArgs).toMatchObject({ ok: false, error: 'invalid_args' });

    expect(lock.firmware.manager.status().mode).toBe('vacation');
    expect(lock.firmware.manager.status().lock).toBe('locked');
    expect(auditBefore()).toBe(0);

    const status = await rawCommand(rig, JSON.stringify(command(rig, 8, 'get_status')));
    expect(status).toMatchObject({
      ok: true,
      result: { lock: 'locked', mode: 'vacation', clock_trusted: true },
    });
  });

  it('unlocks on command, persisting the counter so a replay fails after a reboot', async () => {
    const rig = await startRig(broker, 'cmdlock2');
    const unlock = JSON.stringify(command(rig, 10, 'unlock'));
    expect(await rawCommand(rig, unlock)).toMatchObject({ ok: true });
    await rig.lock.settle();
    expect(rig.lock.firmware.audit.latest(10).map((r) => r.type)).toContain('remote_unlock');
    await rig.link.stop();
    await rig.lock.powerCycle();
    const { SyncLink } = await import('../../firmware/sync/link.ts');
    const relinked = new SyncLink(rig.lock.firmware, 'cmdlock2', rig.link.options);
    // The lock publishes its state once it has subscribed: wait for the new boot's.
    const bootId = rig.lock.firmware.bootId;
    const subscribed = rig.gateway.waitFor(rig.channel.topics.state, 10_000, (p) =>
      p.toString().includes(bootId) ? true : undefined,
    );
    await rig.gateway.mqtt.subscribeAsync(rig.channel.topics.state, { qos: 1 });
    relinked.start();
    await subscribed;
    try {
      const replay = await rawCommand(rig, unlock, (r) => r.id === 't10-unlock');
      expect(replay).toMatchObject({ ok: false, error: 'replayed' });
    } finally {
      await relinked.stop();
    }
  });

  it('syncs time with the gateway: a short round trip sets the clock and trusts it', async () => {
    const rig = await startRig(broker, 'timelock');
    rig.lock.hal.rtc.loseBattery();
    await rig.lock.firmware.manager.refreshClock();
    expect(rig.lock.firmware.manager.status().clockTrusted).toBe(false);
    const reply = await rawCommand(rig, JSON.stringify(command(rig, 1, 'time_sync')));
    expect(reply).toMatchObject({ ok: true });
    expect(reply.result!.accuracy_ms).toBeLessThanOrEqual(1000);
    expect(rig.lock.firmware.manager.status().clockTrusted).toBe(true);
    expect(Math.abs(rig.lock.hal.rtc.peek().epochMs - Date.now())).toBeLessThan(2000);
    expect(rig.lock.firmware.clock.snapshot().lastSyncSource).toBe('gateway');
  });

  it('remote lock and unlock follow one rule: a LOCK in passage mode is refused on every adapter, the bolt stays open', async () => {
    const rig = await startRig(broker, 'passlock');
    const { lock, gateway, channel } = rig;
    expect(
      await rawCommand(rig, JSON.stringify(command(rig, 1, 'set_mode', { mode: 'passage' }))),
    ).toMatchObject({
      ok: true,
    });
    await lock.settle();
    const held = lock.firmware.manager.status().lock;
    expect(['unlocking', 'unlocked']).toContain(held);

    // The gateway's signed lock: refused with the shared code.
    const refused = await rawCommand(rig, JSON.stringify(command(rig, 2, 'lock')));
    expect(refused).toMatchObject({ ok: false, error: 'passage_mode' });

    // Home Assistant's: refused alike, and the refusal shows in its attributes.
    const attributes = channel.topics.haAttributes;
    await gateway.mqtt.subscribeAsync(attributes, { qos: 1 });
    const refusal = (error: string) =>
      gateway.waitFor(attributes, 10_000, (p) => {
        const body = JSON.parse(p.toString()) as { last_refusal?: { error: string } };
        return body.last_refusal?.error === error ? body.last_refusal : undefined;
      });
    const lockRefused = refusal('passage_mode');
    await gateway.mqtt.publishAsync(channel.topics.haSet, 'LOCK', { qos: 1 });
    expect(await lockRefused).toMatchObject({
      command: 'LOCK',
      error: 'passage_mode',
      message: expect.any(String),
    });
    const unlockRefused = refusal('remote_unlock_disabled');
    await gateway.mqtt.publishAsync(channel.topics.haSet, 'UNLOCK', { qos: 1 });
    expect(await unlockRefused).toMatchObject({ command: 'UNLOCK' });
    const openRefused = refusal('invalid_command');
    await gateway.mqtt.publishAsync(channel.topics.haSet, 'OPEN', { qos: 1 });
    expect(await openRefused).toMatchObject({ command: null });

    await lock.settle();
    expect(lock.firmware.manager.status().lock).toBe(held);
    const rows = lock.firmware.audit.latest(30);
    expect(rows.some((row) => row.type === 'remote_lock')).toBe(false);
    // Home Assistant's refusals are coalesced (it cannot sign): the first at once, the
    // next one counted into the row at the end of the interval.
    expect(rows.filter((row) => row.type === 'remote_refused').map((row) => row.data)).toEqual([
      { by: 'gateway', target: 'locked', reason: 'passage_mode' },
      {
        count: 1,
        by: 'home_assistant',
        target: 'locked',
        reason: 'passage_mode',
        first_at: expect.any(String),
      },
    ]);
  });

  it('a full disk: a command is answered storage_failed (not left to time out) and moves nothing', async () => {
    const rig = await startRig(broker, 'fulldisk');
    const { lock } = rig;
    await lock.settle();
    const { db } = lock.firmware;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    for (let i = 0; ; i++) {
      try {
        db.prepare("INSERT INTO state (key, value) VALUES (?, '')").run(`filler-${i}`);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('SQLITE_FULL');
        break;
      }
    }
    const reply = await rawCommand(rig, JSON.stringify(command(rig, 1, 'unlock')));
    expect(reply).toMatchObject({ ok: false, error: 'storage_failed' });
    await lock.settle();
    expect(lock.firmware.manager.status().lock).toBe('locked');
    db.pragma('max_page_count = 1073741823');
    db.prepare("DELETE FROM state WHERE key LIKE 'filler-%'").run();
    // Nothing was spent: the same counter runs once the disk has room.
    expect(await rawCommand(rig, JSON.stringify(command(rig, 1, 'get_status')))).toMatchObject({ ok: true });
  });

  it('a flood of refused Home Assistant commands writes one audit row per interval, not one each', async () => {
    const rig = await startRig(broker, 'haflood', {}, { virtualTime: true, link: { outboxMax: 40 } });
    const { lock, gateway, channel } = rig;
    const FLOOD = 200;
    const attributes = channel.topics.haAttributes;
    await gateway.mqtt.subscribeAsync(attributes, { qos: 1 });
    let refusalsSeen = 0;
    gateway.mqtt.on('message', (topic) => {
      if (topic === attributes) refusalsSeen++;
    });
    for (let i = 0; i < FLOOD; i++)
      await gateway.mqtt.publishAsync(channel.topics.haSet, 'UNLOCK', { qos: 0 });
    await waitUntil(() => refusalsSeen >= FLOOD, 30_000, 'the refusals published');
    const refused = () =>
      lock.firmware.audit
        .latest(1000)
        .filter((row) => row.type === 'remote_refused')
        .sort((a, b) => a.seq - b.seq)
        .map((row) => row.data);
    // Home Assistant may not unlock here (remote_unlock_disabled): each one is refused.
    expect(refused()).toHaveLength(1);
    await lock.advance(60_000);
    const rows = refused();
    expect(rows.map((row) => row.count)).toEqual([1, FLOOD - 1]);
    expect(rows[1]).toMatchObject({
      by: 'home_assistant',
      target: 'unlocked',
      reason: 'remote_unlock_disabled',
      last_reason: 'remote_unlock_disabled',
      last_at: expect.any(String),
    });
  });
});
