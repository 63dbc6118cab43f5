import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import { z } from 'zod';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { loadConfig } from '../../firmware/config.ts';
import { type Firmware, startFirmware } from '../../firmware/firmware.ts';
import type { LogControl } from '../../firmware/log.ts';
import { createOfflineResolver } from '../../firmware/offline-path.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { addDevice, openGatewayDb } from '../../gateway/store.ts';
import { createSimHal, type SimHal } from '../../hal/index.ts';
import { RealScheduler } from '../../hal/scheduler.ts';
import type { ShardReport, ShardSetup, ShardStream, ShardWindow } from './protocol.ts';

/**
 * One lock process of the fleet: its share of the locks, each a real firmware (sim HAL,
 * its own data dir and SQLite file) with its own SyncLink (own MQTT client), and its
 * share of the traffic: keypad entries, signed desired/codes pushes, dropped
 * connections. Latency is keypress to the gateway's acknowledgement of the decision
 * event, seen on the lock's own events/ack topic: the gateway acknowledges only what it
 * committed, so this is keypress to stored (plus one MQTT hop).
 */

interface FleetLock {
  id: string;
  hal: SimHal;
  firmware: Firmware;
  link: SyncLink;
  channel: DeviceChannel;
  pin: string;
  /** performance.now() of the keypress whose decision is pending. */
  pressedAt: number | undefined;
  /** Decisions not yet acknowledged: seq and keypress time. */
  unacked: Array<{ seq: number; pressedAt: number }>;
  revision: number;
}

const RESIDENT_PIN_BASE = 100_000;
const DRAIN_TIMEOUT_MS = 15_000;
const STUCK_ENTRY_MS = 10_000;
/** The event-loop delay histogram samples this often; its values include the interval. */
const LOOP_RESOLUTION_MS = 10;
const reportedSchema = z
  .object({ revision: z.number(), codes: z.array(z.record(z.string(), z.unknown())) })
  .passthrough();
const ackSchema = z.object({ seq: z.number() }).passthrough();

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** File descriptors this process has open now, and its soft limit. */
export function fdUsage(): { open: number; limit: number | null } {
  let open = 0;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {}
  let limit: number | null = null;
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (match) limit = Number(match[1]);
  } catch {}
  return { open, limit };
}

/** File descriptors one lock holds: its SQLite file, -wal and -shm, and its MQTT socket. */
export const FDS_PER_LOCK = 4;

function linkClient(link: SyncLink): MqttClient | undefined {
  return link.mqtt;
}

export class Shard {
  private readonly fleet: FleetLock[] = [];
  private readonly byId = new Map<string, FleetLock>();
  private readonly errors = new Map<string, number>();
  private readonly errorSamples: string[] = [];
  private warnings = 0;
  private pusher: GatewayClient | undefined;
  private readonly pendingPushes = new Map<string, Array<{ revision: number; at: number }>>();
  private readonly latencies: number[] = [];
  private readonly pushLatencies: number[] = [];
  private window: ShardWindow = { connected: 0, entries: 0, decisions: 0, latencies: [], errors: 0 };
  private stopping = false;
  private peakRss = process.memoryUsage().rss;
  private rssBefore = 0;
  private rssAfterStart = 0;
  private connectedAtStart = 0;
  private readonly traffic = {
    entries: 0,
    decisions: 0,
    granted: 0,
    denied: 0,
    skippedBusy: 0,
    pushes: 0,
    pushesApplied: 0,
    reconnects: 0,
  };

  constructor(
    private readonly setup: ShardSetup,
    private readonly progress: (line: string) => void,
  ) {}

  private fail(kind: string, message: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    this.window.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(`${kind}: ${message}`);
  }

  private sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage().rss);
  }

  connected(): number {
    let n = 0;
    for (const lock of this.fleet) if (linkClient(lock.link)?.connected) n++;
    return n;
  }

  /** Boots every lock (data dir, firmware, resident code) and registers it with the gateway database. */
  async create(): Promise<void> {
    const { setup } = this;
    this.rssBefore = process.memoryUsage().rss;
    this.pusher = await GatewayClient.connect({ url: setup.url });
    const pusher = this.pusher;
    // A desired/codes document left retained by an earlier run would be applied at connect.
    await Promise.all(
      setup.ids.map((id) =>
        pusher.mqtt.publishAsync(`lock/${id}/desired/codes`, '', { qos: 1, retain: true }),
      ),
    );
    pusher.mqtt.on('message', (topic, payload) => this.onReported(topic, payload));
    await pusher.mqtt.subscribeAsync(
      setup.ids.map((id) => `lock/${id}/reported/codes`),
      { qos: 1 },
    );
    const db = await openGatewayDb(setup.db);
    const scheduler = new RealScheduler();
    const log: LogControl = {
      level: 'warn',
      sink: {
        write: (line) => {
          const record = JSON.parse(line) as { level: string; ns: string; msg: string; error?: string };
          if (record.level === 'error')
            this.fail('firmware_error', `${record.ns}: ${record.msg} ${record.error ?? ''}`);
          else this.warnings++;
        },
      },
    };
    const revisionBase = Date.now();
    let lastProgress = 0;
    try {
      for (let i = 0; i < setup.ids.length && !this.stopping; i++) {
        const id = setup.ids[i]!;
        const dataDir = join(setup.root, id);
        mkdirSync(dataDir, { recursive: true });
        const hal = createSimHal(scheduler, { startEpochMs: Date.now() });
        const config = loadConfig({
          overrides: {
            deviceId: id,
            // A fleet-wide random mix of wrong codes must not lock keypads out for the run.
            wrongCodeLimit: 100,
            dailyFailureLimit: 10_000,
          },
        });
        const firmware = await startFirmware({
          dataDir,
          hal,
          scheduler,
          config,
          log,
          offline: createOfflineResolver,
        });
        // Real locks each commit to their own flash; here they all wait on one disk and one thread.
        if (setup.lockSync !== 'full') firmware.db.pragma(`synchronous = ${setup.lockSync.toUpperCase()}`);
        const pin = String(RESIDENT_PIN_BASE + setup.firstIndex + i);
        const parsed = parseCodeSpec({ name: 'resident', pin, kind: 'ongoing' });
        if (!parsed.ok) throw new Error(parsed.message);
        const added = firmware.codes.add(parsed.spec, { now: Date.now(), capacity: config.codeCapacity });
        // A kept data dir (--data) already has it.
        if (!added.ok && added.error !== 'duplicate_code') throw new Error(added.message);
        await addDevice(db, id, firmware.secret);
        const link = new SyncLink(firmware, id, {
          url: setup.url,
          outboxMax: 100_000,
          window: 64,
          ackTimeoutMs: 10_000,
          maxRoundTripMs: 2000,
          homeAssistant: { discovery: true, allowUnlock: false },
        });
        const lock: FleetLock = {
          id,
          hal,
          firmware,
          link,
          channel: new DeviceChannel({ deviceId: id, secret: firmware.secret }),
          pin,
          pressedAt: undefined,
          unacked: [],
          revision: revisionBase,
        };
        firmware.manager.onEvent((event) => {
          if (event.type !== 'decision' || event.record.source !== 'keypad') return;
          this.traffic.decisions++;
          this.window.decisions++;
          if (event.record.decision.outcome === 'granted') this.traffic.granted++;
          else this.traffic.denied++;
          if (lock.pressedAt !== undefined)
            lock.unacked.push({ seq: event.record.seq, pressedAt: lock.pressedAt });
          lock.pressedAt = undefined;
        });
        this.fleet.push(lock);
        this.byId.set(id, lock);
        if (i % 10 === 9) await tick();
        if (performance.now() - lastProgress >= 1000) {
          lastProgress = performance.now();
          this.sampleRss();
          this.progress(`starting  ${i + 1}/${setup.ids.length} locks`);
        }
      }
    } finally {
      await db.close();
    }
  }

  /** Starts every link; resolves when all are connected (or after a while, counting the rest as errors). */
  async connect(): Promise<number> {
    for (const [i, lock] of this.fleet.entries()) {
      lock.link.start();
      const ackTopic = lock.channel.topics.eventsAck;
      linkClient(lock.link)?.on('message', (topic, payload) => {
        if (topic === ackTopic) this.onAck(lock, payload);
      });
      if (i % 10 === 9) await tick();
    }
    const deadline = performance.now() + 30_000 + this.fleet.length * 20;
    let lastProgress = 0;
    while (!this.stopping && this.connected() < this.fleet.length && performance.now() < deadline) {
      await sleep(200);
      if (performance.now() - lastProgress >= 1000) {
        lastProgress = performance.now();
        this.progress(`connecting  ${this.connected()}/${this.fleet.length} connected`);
      }
    }
    // The first-connect burst (time sync, state, boot events) settles before traffic starts.
    await sleep(1000);
    this.connectedAtStart = this.connected();
    if (this.connectedAtStart < this.fleet.length)
      this.fail(
        'not_connected',
        `${this.fleet.length - this.connectedAtStart} locks did not connect at start`,
      );
    this.sampleRss();
    this.rssAfterStart = process.memoryUsage().rss;
    return this.connectedAtStart;
  }

  private onAck(lock: FleetLock, payload: Buffer): void {
    let seq: number;
    try {
      const parsed = ackSchema.safeParse(JSON.parse(payload.toString()));
      if (!parsed.success) return;
      seq = parsed.data.seq;
    } catch {
      return;
    }
    if (lock.unacked.length === 0) return;
    const now = performance.now();
    const still = [];
    for (const pending of lock.unacked) {
      if (pending.seq > seq) {
        still.push(pending);
        continue;
      }
      const ms = now - pending.pressedAt;
      this.latencies.push(ms);
      this.window.latencies.push(ms);
    }
    lock.unacked = still;
  }

  /** Code pushes are done when the lock reports the revision. */
  private onReported(topic: string, payload: Buffer): void {
    const match = /^lock\/([^/]+)\/reported\/codes$/.exec(topic);
    if (!match || payload.length === 0) return;
    const lock = this.byId.get(match[1]!);
    const pending = lock && this.pendingPushes.get(lock.id);
    if (!lock || !pending?.length) return;
    const report = lock.channel.open('reported_codes', payload, reportedSchema);
    if (!report) return;
    const now = performance.now();
    const done = pending.filter((p) => p.revision <= report.revision);
    if (done.length === 0) return;
    this.pendingPushes.set(
      lock.id,
      pending.filter((p) => p.revision > report.revision),
    );
    for (const push of done) {
      this.traffic.pushesApplied++;
      this.pushLatencies.push(now - push.at);
    }
    const bad = report.codes.filter((c) => c.status === 'error');
    if (bad.length)
      this.fail('push_rejected', `${lock.id} revision ${report.revision}: ${bad.length} codes refused`);
  }

  /** Takes the window since the last call (the coordinator asks once a second). */
  takeWindow(): ShardWindow {
    const window = { ...this.window, connected: this.connected() };
    this.window = { connected: 0, entries: 0, decisions: 0, latencies: [], errors: 0 };
    this.sampleRss();
    return window;
  }

  stop(): void {
    this.stopping = true;
  }

  /** Runs the traffic for `durationMs` (or until stop()), then drains and reports. */
  async run(durationMs: number): Promise<ShardReport> {
    const { setup, fleet, traffic } = this;
    const pusher = this.pusher!;
    const random = Math.random;
    const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loopDelay.enable();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let due = { entries: 0, pushes: 0, reconnects: 0 };
    let last = started;
    const pick = () => fleet[Math.floor(random() * fleet.length)]!;
    while (!this.stopping && performance.now() - started < durationMs && fleet.length > 0) {
      await sleep(20);
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      due = {
        entries: due.entries + setup.rate * dt,
        pushes: due.pushes + setup.pushesPerSecond * dt,
        reconnects: due.reconnects + setup.reconnectsPerSecond * dt,
      };
      for (; due.entries >= 1; due.entries--) {
        let lock = pick();
        for (let tries = 0; lock.pressedAt !== undefined && tries < 5; tries++) lock = pick();
        if (lock.pressedAt !== undefined) {
          if (now - lock.pressedAt > STUCK_ENTRY_MS) {
            this.fail(
              'entry_without_decision',
              `${lock.id}: no decision ${STUCK_ENTRY_MS} ms after the keypress`,
            );
            lock.pressedAt = undefined;
          }
          traffic.skippedBusy++;
          continue;
        }
        const valid = random() < setup.validFraction;
        const digits = valid ? lock.pin : `0${String(Math.floor(random() * 1e6)).padStart(6, '0')}`;
        lock.pressedAt = performance.now();
        traffic.entries++;
        this.window.entries++;
        lock.hal.keypad.press(`${digits}#`);
      }
      for (; due.pushes >= 1; due.pushes--) {
        const lock = pick();
        const revision = ++lock.revision;
        // Three guests with distinct PINs, none the resident's (100000 + lock index).
        const guests = Array.from({ length: 3 }, (_, g) => ({
          ref: `guest-${g}`,
          name: `guest ${g}`,
          pin: String(200_000 + g * 250_000 + Math.floor(random() * 250_000)),
          kind: 'ongoing',
        }));
        const doc = lock.channel.sign('desired_codes', {
          revision,
          issued_at: new Date().toISOString(),
          codes: guests,
        });
        const list = this.pendingPushes.get(lock.id) ?? [];
        list.push({ revision, at: performance.now() });
        this.pendingPushes.set(lock.id, list);
        traffic.pushes++;
        pusher.mqtt
          .publishAsync(lock.channel.topics.desiredCodes, JSON.stringify(doc), { qos: 1, retain: true })
          .catch((error: Error) => this.fail('push_failed', `${lock.id}: ${error.message}`));
      }
      for (; due.reconnects >= 1; due.reconnects--) {
        const client = linkClient(pick().link);
        if (!client?.connected) continue;
        traffic.reconnects++;
        client.stream.destroy();
      }
    }
    const trafficSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    loopDelay.disable();

    // Drain: every decision pressed is acknowledged, every dropped lock is back.
    const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
    const undelivered = () =>
      fleet.reduce((n, l) => n + l.unacked.length + (l.pressedAt === undefined ? 0 : 1), 0);
    let lastProgress = 0;
    while ((undelivered() > 0 || this.connected() < fleet.length) && performance.now() < drainDeadline) {
      await sleep(100);
      if (performance.now() - lastProgress >= 1000) {
        lastProgress = performance.now();
        this.progress(
          `draining  ${undelivered()} decisions on their way, ${this.connected()}/${fleet.length} connected`,
        );
      }
    }
    const unackedDecisions = fleet.reduce((n, l) => n + l.unacked.length, 0);
    if (unackedDecisions)
      this.fail(
        'undelivered',
        `${unackedDecisions} decisions not acknowledged by the gateway ${DRAIN_TIMEOUT_MS / 1000} s after the run`,
      );
    const stuck = fleet.filter((l) => l.pressedAt !== undefined).length;
    if (stuck) this.fail('entry_without_decision', `${stuck} keypresses never got a decision`);
    const unapplied = [...this.pendingPushes.values()].reduce((n, list) => n + list.length, 0);
    if (unapplied) this.fail('push_not_applied', `${unapplied} pushes never reported applied`);
    const connectedAtEnd = this.connected();
    if (connectedAtEnd < fleet.length)
      this.fail('not_connected', `${fleet.length - connectedAtEnd} locks not connected at the end`);
    // Every event acknowledged: the outbox is empty (what the coordinator checks against the database).
    const drainEvents = performance.now() + DRAIN_TIMEOUT_MS;
    const behind = () => fleet.filter((l) => l.link.status().ackedSeq < l.firmware.audit.lastSeq()).length;
    while (behind() > 0 && performance.now() < drainEvents) await sleep(100);
    const streams: ShardStream[] = fleet.map((l) => ({
      id: l.id,
      incarnation: l.firmware.incarnation,
      lastSeq: l.firmware.audit.lastSeq(),
      ackedSeq: l.link.status().ackedSeq,
    }));
    const fds = fdUsage();
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 10) / 10);
    return {
      locks: fleet.length,
      traffic: { ...traffic },
      latencies: this.latencies,
      pushLatencies: this.pushLatencies,
      errors: Object.fromEntries(this.errors),
      errorSamples: this.errorSamples,
      warnings: this.warnings,
      trafficSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      eventLoopDelayMs: {
        p50: ms(loopDelay.percentile(50)),
        p99: ms(loopDelay.percentile(99)),
        max: ms(loopDelay.max),
      },
      memory: {
        rssBeforeMb: mb(this.rssBefore),
        rssAfterStartMb: mb(this.rssAfterStart),
        peakRssMb: mb(this.peakRss),
        heapUsedMb: mb(process.memoryUsage().heapUsed),
      },
      connectedAtStart: this.connectedAtStart,
      connectedAtEnd,
      streams,
      openFds: fds.open,
      fdLimit: fds.limit,
    };
  }

  /** Stops every link (availability offline), closes every firmware, clears what the run retained. */
  async shutdown(): Promise<void> {
    const { fleet } = this;
    if (fleet.length) this.progress(`stopping  ${fleet.length} locks`);
    for (let i = 0; i < fleet.length; i += 100) {
      await Promise.all(fleet.slice(i, i + 100).map((lock) => lock.link.stop().catch(() => undefined)));
    }
    for (const lock of fleet) {
      await lock.firmware.close().catch(() => undefined);
      await lock.hal.close().catch(() => undefined);
    }
    const pusher = this.pusher;
    if (!pusher) return;
    // Leave the broker as we found it: no retained messages of these locks.
    if (pusher.mqtt.connected) {
      const retained = fleet.flatMap((lock) => {
        const t = lock.channel.topics;
        return [t.availability, t.state, t.desiredCodes, t.reportedCodes, t.haState, t.haDiscovery];
      });
      for (let i = 0; i < retained.length; i += 500) {
        await Promise.all(
          retained
            .slice(i, i + 500)
            .map((topic) =>
              pusher.mqtt.publishAsync(topic, '', { qos: 1, retain: true }).catch(() => undefined),
            ),
        );
      }
    }
    await pusher.close();
  }
}
