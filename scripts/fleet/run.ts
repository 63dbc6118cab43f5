import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { z } from 'zod';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { loadConfig } from '../../firmware/config.ts';
import { type Firmware, startFirmware } from '../../firmware/firmware.ts';
import type { LogControl } from '../../firmware/log.ts';
import { createOfflineResolver } from '../../firmware/offline-path.ts';
import { SyncLink } from '../../firmware/sync/link.ts';
import { DeviceChannel, GatewayClient } from '../../gateway/client.ts';
import { GatewayService } from '../../gateway/service.ts';
import { addDevice, type GatewayDb, openGatewayDb } from '../../gateway/store.ts';
import { createSimHal, type SimHal } from '../../hal/index.ts';
import { RealScheduler } from '../../hal/scheduler.ts';

/**
 * The fleet: N simulated locks in one process, each a real firmware (sim HAL, its own
 * data dir and SQLite file) with its own SyncLink (own MQTT client), a gateway
 * (GatewayService: stores, deduplicates and acknowledges events, answers time requests)
 * on one more client, and a traffic model: keypad entries, signed desired/codes pushes,
 * forced reconnects. End-to-end latency is keypress to the gateway storing the decision.
 */

export interface FleetOptions {
  locks: number;
  url: string;
  /** Keypad entries per second across the fleet. */
  rate: number;
  durationMs: number;
  /** Share of entries with a valid code (the rest are wrong codes). */
  validFraction: number;
  /** desired/codes pushes per second across the fleet. */
  pushesPerSecond: number;
  /** Forced MQTT reconnects (the TCP connection dropped) per second across the fleet. */
  reconnectsPerSecond: number;
  /**
   * The locks' SQLite synchronous setting after boot: `full` is the firmware's own (every
   * decision fsynced). In one process the fleet's fsyncs queue on one thread and one disk,
   * which real locks never do; `normal`/`off` take that out of the measurement.
   */
  lockSync: 'full' | 'normal' | 'off';
  /** Device ids are PREFIX-0001...; distinct prefixes let fleets share a broker. */
  prefix: string;
  /** Parent of the data dirs; a temporary dir (removed after) when absent. */
  dataDir?: string;
  /** Called about once a second with a progress line. */
  onProgress?: (line: string) => void;
  /** Resolves to stop early (SIGINT): the run drains and reports. */
  stop?: Promise<void>;
}

export interface FleetReport {
  locks: number;
  broker: string;
  durationSeconds: number;
  startup: { seconds: number; connected: number };
  traffic: {
    targetRate: number;
    entries: number;
    decisions: number;
    granted: number;
    denied: number;
    skippedBusy: number;
    pushes: number;
    pushesApplied: number;
    reconnects: number;
  };
  events: { received: number; perSecond: number; decisionsPerSecond: number };
  latencyMs: { samples: number; p50: number; p99: number; max: number };
  pushLatencyMs: { p50: number; p99: number };
  /** One committed INSERT (WAL, synchronous=FULL) on a probe file each second: the disk's state. */
  diskCommitMs: { p50: number; p99: number };
  lockSync: 'full' | 'normal' | 'off';
  memory: {
    rssBeforeMb: number;
    rssAfterStartMb: number;
    perLockMb: number;
    peakRssMb: number;
    heapUsedMb: number;
  };
  process: {
    cpuPercent: number;
    eventLoopDelayMs: { p50: number; p99: number; max: number };
    openFds: number;
    fdLimit: number | null;
  };
  connectedAtEnd: number;
  errors: { total: number; byKind: Record<string, number>; samples: string[] };
  /** Firmware log lines at level warn. */
  warnings: number;
  /** Messages of other fleets' locks (other --prefix) on the same broker, ignored. */
  foreignMessages: number;
}

/** Traffic bookkeeping for one simulated lock. */
interface FleetLock {
  id: string;
  hal: SimHal;
  firmware: Firmware;
  link: SyncLink;
  channel: DeviceChannel;
  pin: string;
  /** performance.now() of the keypress whose decision is pending. */
  pressedAt: number | undefined;
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

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

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

/** The MQTT.js client inside a SyncLink: the fleet drops its TCP connection to force a reconnect. */
function linkClient(link: SyncLink): MqttClient | undefined {
  return link.mqtt;
}

/** A short, stable string for reports: the broker URL without credentials. */
function brokerLabel(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const { locks: count, url } = options;
  const progress = options.onProgress ?? (() => undefined);
  const ownsRoot = !options.dataDir;
  const root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tumbler-fleet-'));
  mkdirSync(root, { recursive: true });
  const random = Math.random;
  const errors = new Map<string, number>();
  const errorSamples: string[] = [];
  let warnings = 0;
  let foreignMessages = 0;
  const fail = (kind: string, message: string) => {
    errors.set(kind, (errors.get(kind) ?? 0) + 1);
    if (errorSamples.length < 10) errorSamples.push(`${kind}: ${message}`);
  };
  let stopping = false;
  void options.stop?.then(() => {
    stopping = true;
  });

  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const fleet: FleetLock[] = [];
  let db: GatewayDb | undefined;
  let gateway: GatewayClient | undefined;
  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };

  // Latency bookkeeping: keypress time by "device/seq" until the gateway stores the event.
  const awaiting = new Map<string, number>();
  const latencies: number[] = [];
  const pushLatencies: number[] = [];
  let eventsReceived = 0;
  let decisionsReceived = 0;
  let windowEvents = 0;
  let windowDecisions = 0;
  const windowLatencies: number[] = [];
  const pendingPushes = new Map<string, Array<{ revision: number; at: number }>>();
  const traffic = {
    targetRate: options.rate,
    entries: 0,
    decisions: 0,
    granted: 0,
    denied: 0,
    skippedBusy: 0,
    pushes: 0,
    pushesApplied: 0,
    reconnects: 0,
  };

  try {
    // --- the gateway ------------------------------------------------------------------
    db = openGatewayDb(join(root, 'gateway.db'));
    gateway = await GatewayClient.connect({ url });
    const gatewayClient = gateway;
    const byId = new Map<string, FleetLock>();
    const service = new GatewayService(gateway, db, {
      onEvent: (event) => {
        eventsReceived++;
        windowEvents++;
        if (event.type !== 'decision') return;
        const key = `${event.deviceId}/${event.seq}`;
        const pressed = awaiting.get(key);
        if (pressed === undefined) return;
        awaiting.delete(key);
        const ms = performance.now() - pressed;
        latencies.push(ms);
        windowLatencies.push(ms);
        decisionsReceived++;
        windowDecisions++;
      },
      onWarning: (message) => {
        // Another fleet (another --prefix) on the same broker: its locks are not ours to judge.
        const device = /unregistered device (\S+)/.exec(message)?.[1];
        if (device !== undefined && !device.startsWith(`${options.prefix}-`)) foreignMessages++;
        else fail('gateway_refused', message);
      },
    });
    await service.start();
    // Code pushes are done when the lock reports the revision.
    gateway.mqtt.on('message', (topic, payload) => {
      const match = /^lock\/([^/]+)\/reported\/codes$/.exec(topic);
      if (!match || payload.length === 0) return;
      const lock = byId.get(match[1]!);
      const pending = lock && pendingPushes.get(lock.id);
      if (!lock || !pending?.length) return;
      const report = lock.channel.open('reported_codes', payload, reportedSchema);
      if (!report) return;
      const now = performance.now();
      const done = pending.filter((p) => p.revision <= report.revision);
      if (done.length === 0) return;
      pendingPushes.set(
        lock.id,
        pending.filter((p) => p.revision > report.revision),
      );
      for (const push of done) {
        traffic.pushesApplied++;
        pushLatencies.push(now - push.at);
      }
      const bad = report.codes.filter((c) => c.status === 'error');
      if (bad.length)
        fail('push_rejected', `${lock.id} revision ${report.revision}: ${bad.length} codes refused`);
    });

    // --- the locks ----------------------------------------------------------------------
    const fds = fdUsage();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const scheduler = new RealScheduler();
    const log: LogControl = {
      level: 'warn',
      sink: {
        write: (line) => {
          const record = JSON.parse(line) as { level: string; ns: string; msg: string; error?: string };
          if (record.level === 'error')
            fail('firmware_error', `${record.ns}: ${record.msg} ${record.error ?? ''}`);
          else warnings++;
        },
      },
    };
    const revisionBase = Date.now();
    const ids = Array.from(
      { length: count },
      (_, i) => `${options.prefix}-${String(i + 1).padStart(4, '0')}`,
    );
    // A desired/codes document left retained by an earlier run would be applied at connect.
    await Promise.all(
      ids.map((id) =>
        gatewayClient.mqtt.publishAsync(`lock/${id}/desired/codes`, '', { qos: 1, retain: true }),
      ),
    );
    const lastProgress = { at: 0 };
    for (let i = 0; i < count && !stopping; i++) {
      const id = ids[i]!;
      const dataDir = join(root, id);
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
      if (options.lockSync !== 'full') firmware.db.pragma(`synchronous = ${options.lockSync.toUpperCase()}`);
      const pin = String(RESIDENT_PIN_BASE + i);
      const parsed = parseCodeSpec({ name: 'resident', pin, kind: 'ongoing' });
      if (!parsed.ok) throw new Error(parsed.message);
      const added = firmware.codes.add(parsed.spec, { now: Date.now(), capacity: config.codeCapacity });
      // A kept data dir (--data) already has it.
      if (!added.ok && added.error !== 'duplicate_code') throw new Error(added.message);
      addDevice(db, id, firmware.secret);
      const link = new SyncLink(firmware, id, {
        url,
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
        revision: revisionBase,
      };
      firmware.manager.onEvent((event) => {
        if (event.type !== 'decision' || event.record.source !== 'keypad') return;
        traffic.decisions++;
        if (event.record.decision.outcome === 'granted') traffic.granted++;
        else traffic.denied++;
        if (lock.pressedAt !== undefined) awaiting.set(`${id}/${event.record.seq}`, lock.pressedAt);
        lock.pressedAt = undefined;
      });
      fleet.push(lock);
      byId.set(id, lock);
      link.start();
      // Let sockets, timers and the progress line run between locks.
      if (i % 10 === 9) await tick();
      if (performance.now() - lastProgress.at >= 1000) {
        lastProgress.at = performance.now();
        sampleRss();
        progress(`starting  ${i + 1}/${count} locks  ${connectedCount(fleet)} connected`);
      }
    }
    // Everyone connected (or give up after a while and count the rest as errors).
    const connectDeadline = performance.now() + 30_000 + count * 20;
    while (!stopping && connectedCount(fleet) < fleet.length && performance.now() < connectDeadline) {
      await sleep(200);
      if (performance.now() - lastProgress.at >= 1000) {
        lastProgress.at = performance.now();
        progress(`connecting  ${connectedCount(fleet)}/${count} connected`);
      }
    }
    // The first-connect burst (time sync, state, boot events) settles before traffic starts.
    await sleep(1000);
    const startupSeconds = (performance.now() - started) / 1000;
    const connectedAtStart = connectedCount(fleet);
    if (connectedAtStart < count)
      fail('not_connected', `${count - connectedAtStart} locks did not connect at start`);
    sampleRss();
    const rssAfterStart = process.memoryUsage().rss;

    // --- traffic --------------------------------------------------------------------------
    const probe = new Database(join(root, 'probe.db'));
    probe.pragma('journal_mode = WAL');
    probe.pragma('synchronous = FULL');
    probe.exec('CREATE TABLE IF NOT EXISTS probe (at INTEGER)');
    const probeInsert = probe.prepare<[number]>('INSERT INTO probe (at) VALUES (?)');
    const commits: number[] = [];
    const probeCommit = () => {
      const t0 = performance.now();
      probeInsert.run(Date.now());
      const ms = performance.now() - t0;
      commits.push(ms);
      return ms;
    };
    loopDelay.enable();
    const cpuBefore = process.cpuUsage();
    const trafficStarted = performance.now();
    const eventsAtStart = eventsReceived;
    const decisionsAtStart = decisionsReceived;
    let due = { entries: 0, pushes: 0, reconnects: 0 };
    let last = performance.now();
    let nextProgress = last + 1000;
    const pick = () => fleet[Math.floor(random() * fleet.length)]!;
    while (!stopping && performance.now() - trafficStarted < options.durationMs) {
      await sleep(20);
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      due = {
        entries: due.entries + options.rate * dt,
        pushes: due.pushes + options.pushesPerSecond * dt,
        reconnects: due.reconnects + options.reconnectsPerSecond * dt,
      };
      for (; due.entries >= 1; due.entries--) {
        let lock = pick();
        for (let tries = 0; lock.pressedAt !== undefined && tries < 5; tries++) lock = pick();
        if (lock.pressedAt !== undefined) {
          if (now - lock.pressedAt > STUCK_ENTRY_MS) {
            fail('entry_without_decision', `${lock.id}: no decision ${STUCK_ENTRY_MS} ms after the keypress`);
            lock.pressedAt = undefined;
          }
          traffic.skippedBusy++;
          continue;
        }
        const valid = random() < options.validFraction;
        const digits = valid ? lock.pin : `0${String(Math.floor(random() * 1e6)).padStart(6, '0')}`;
        lock.pressedAt = performance.now();
        traffic.entries++;
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
        const list = pendingPushes.get(lock.id) ?? [];
        list.push({ revision, at: performance.now() });
        pendingPushes.set(lock.id, list);
        traffic.pushes++;
        gatewayClient.mqtt
          .publishAsync(lock.channel.topics.desiredCodes, JSON.stringify(doc), { qos: 1, retain: true })
          .catch((error: Error) => fail('push_failed', `${lock.id}: ${error.message}`));
      }
      for (; due.reconnects >= 1; due.reconnects--) {
        const client = linkClient(pick().link);
        if (!client?.connected) continue;
        traffic.reconnects++;
        client.stream.destroy();
      }
      if (now >= nextProgress) {
        nextProgress += 1000;
        sampleRss();
        const commitMs = probeCommit();
        windowLatencies.sort((a, b) => a - b);
        const elapsed = Math.round((now - trafficStarted) / 1000);
        progress(
          `${String(elapsed).padStart(4)}s/${Math.round(options.durationMs / 1000)}s  ` +
            `locks ${connectedCount(fleet)}/${count} connected  ` +
            `events ${windowEvents}/s  decisions ${windowDecisions}/s  ` +
            `p99 ${Math.round(percentile(windowLatencies, 0.99))} ms  ` +
            `disk commit ${commitMs.toFixed(1)} ms  ` +
            `errors ${[...errors.values()].reduce((a, b) => a + b, 0)}`,
        );
        windowEvents = 0;
        windowDecisions = 0;
        windowLatencies.length = 0;
      }
    }
    const trafficSeconds = (performance.now() - trafficStarted) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    loopDelay.disable();
    probe.close();
    commits.sort((a, b) => a - b);

    // --- drain: every decision pressed reaches the gateway -------------------------------
    const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
    const undelivered = () => awaiting.size + fleet.filter((l) => l.pressedAt !== undefined).length;
    // ... and every lock whose connection was dropped is back.
    while ((undelivered() > 0 || connectedCount(fleet) < fleet.length) && performance.now() < drainDeadline) {
      await sleep(100);
      if (performance.now() - lastProgress.at >= 1000) {
        lastProgress.at = performance.now();
        progress(
          `draining  ${undelivered()} decisions on their way, ${connectedCount(fleet)}/${count} connected`,
        );
      }
    }
    if (awaiting.size)
      fail(
        'undelivered',
        `${awaiting.size} decisions not at the gateway ${DRAIN_TIMEOUT_MS / 1000} s after the run`,
      );
    const stuck = fleet.filter((l) => l.pressedAt !== undefined).length;
    if (stuck) fail('entry_without_decision', `${stuck} keypresses never got a decision`);
    const unapplied = [...pendingPushes.values()].reduce((n, list) => n + list.length, 0);
    if (unapplied) fail('push_not_applied', `${unapplied} pushes never reported applied`);
    const connectedAtEnd = connectedCount(fleet);
    if (connectedAtEnd < fleet.length)
      fail('not_connected', `${fleet.length - connectedAtEnd} locks not connected at the end`);

    latencies.sort((a, b) => a - b);
    pushLatencies.sort((a, b) => a - b);
    const fdsNow = fdUsage();
    const total = [...errors.values()].reduce((a, b) => a + b, 0);
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 10) / 10);
    return {
      locks: count,
      broker: brokerLabel(url),
      durationSeconds: Math.round(trafficSeconds * 10) / 10,
      startup: { seconds: Math.round(startupSeconds * 10) / 10, connected: connectedAtStart },
      traffic,
      events: {
        received: eventsReceived - eventsAtStart,
        perSecond: Math.round((eventsReceived - eventsAtStart) / trafficSeconds),
        decisionsPerSecond: Math.round(((decisionsReceived - decisionsAtStart) / trafficSeconds) * 10) / 10,
      },
      latencyMs: {
        samples: latencies.length,
        p50: Math.round(percentile(latencies, 0.5) * 10) / 10,
        p99: Math.round(percentile(latencies, 0.99) * 10) / 10,
        max: Math.round((latencies.at(-1) ?? 0) * 10) / 10,
      },
      pushLatencyMs: {
        p50: Math.round(percentile(pushLatencies, 0.5)),
        p99: Math.round(percentile(pushLatencies, 0.99)),
      },
      diskCommitMs: {
        p50: Math.round(percentile(commits, 0.5) * 100) / 100,
        p99: Math.round(percentile(commits, 0.99) * 100) / 100,
      },
      lockSync: options.lockSync,
      memory: {
        rssBeforeMb: mb(rssBefore),
        rssAfterStartMb: mb(rssAfterStart),
        perLockMb:
          Math.round(((rssAfterStart - rssBefore) / 2 ** 20 / Math.max(1, fleet.length)) * 100) / 100,
        peakRssMb: mb(peakRss),
        heapUsedMb: mb(process.memoryUsage().heapUsed),
      },
      process: {
        cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / trafficSeconds) * 100),
        eventLoopDelayMs: {
          p50: ms(loopDelay.percentile(50)),
          p99: ms(loopDelay.percentile(99)),
          max: ms(loopDelay.max),
        },
        openFds: fdsNow.open,
        fdLimit: fds.limit,
      },
      connectedAtEnd,
      errors: { total, byKind: Object.fromEntries(errors), samples: errorSamples },
      warnings,
      foreignMessages,
    };
  } finally {
    await shutdown(fleet, gateway, progress);
    db?.close();
    if (ownsRoot) rmSync(root, { recursive: true, force: true });
  }
}

function connectedCount(fleet: readonly FleetLock[]): number {
  let n = 0;
  for (const lock of fleet) if (linkClient(lock.link)?.connected) n++;
  return n;
}

/** Stops every link (availability offline), closes every firmware, and clears what the run retained. */
async function shutdown(
  fleet: readonly FleetLock[],
  gateway: GatewayClient | undefined,
  progress: (line: string) => void,
): Promise<void> {
  if (fleet.length) progress(`stopping  ${fleet.length} locks`);
  for (let i = 0; i < fleet.length; i += 100) {
    await Promise.all(fleet.slice(i, i + 100).map((lock) => lock.link.stop().catch(() => undefined)));
  }
  for (const lock of fleet) {
    await lock.firmware.close().catch(() => undefined);
    await lock.hal.close().catch(() => undefined);
  }
  if (!gateway) return;
  // Leave the broker as we found it: no retained messages of these locks.
  if (gateway.mqtt.connected) {
    const retained = fleet.flatMap((lock) => {
      const t = lock.channel.topics;
      return [t.availability, t.state, t.desiredCodes, t.reportedCodes, t.haState, t.haDiscovery];
    });
    for (let i = 0; i < retained.length; i += 500) {
      await Promise.all(
        retained
          .slice(i, i + 500)
          .map((topic) =>
            gateway.mqtt.publishAsync(topic, '', { qos: 1, retain: true }).catch(() => undefined),
          ),
      );
    }
  }
  await gateway.close();
}
