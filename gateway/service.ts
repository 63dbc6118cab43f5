import { z } from 'zod';
import type { GatewayClient } from './client.ts';
import { DeviceChannel } from './client.ts';
import {
  advanceAcks,
  catchUpAcks,
  type GatewayDb,
  getDevice,
  lockDevices,
  noteIncarnations,
  raiseCounters,
  type StoredEvent,
  setDeviceNote,
  storeEvents,
  storeReportedMany,
} from './store.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const incarnation = z.string().regex(/^[0-9a-f]{32}$/);

const eventSchema = z
  .object({
    device_id: z.string(),
    incarnation,
    boot_id: z.string(),
    seq: z.number().int().min(1),
    prev_seq: z.number().int().min(0),
    at: z.string(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()),
    hash: hex64,
    prev_hash: hex64,
  })
  .strict();

/** The part of the lock's signed state that says where the gateway stands. */
const stateSchema = z
  .object({ incarnation, acked_seq: z.number().int().min(0), last_counter: z.number().int().min(0) })
  .passthrough();
const timeReqSchema = z.object({ nonce: z.string().regex(/^[0-9a-f]{32}$/) }).strict();
const reportedSchema = z.object({ revision: z.number().int().min(0) }).passthrough();

/** An unregistered device is looked up again after this long (another worker or lockctl may add it). */
const UNKNOWN_DEVICE_RECHECK_MS = 10_000;

export interface ServiceCallbacks {
  /**
   * Each event once, in seq order within the lock's incarnation, as soon as the gateway
   * holds it and every event the lock queued before it (that is, when it acknowledges it).
   * With several workers, the worker whose commit moved the ack hands it over.
   */
  onEvent?: (event: StoredEvent) => void;
  /** Something for the operator: a refusal, a lock reset, a broken chain, a skipped range. */
  onWarning?: (message: string) => void;
}

export interface ServiceOptions {
  /**
   * Share the lock topics with the other workers of this group (MQTT 5 shared
   * subscriptions, `$share/<group>/lock/+/events` ...): the broker gives each message to
   * one of them. Every worker must use the same database.
   */
  workerGroup?: string;
}

/** A verified message, waiting for the next commit. */
type Inbound =
  | { kind: 'event'; event: StoredEvent }
  | { kind: 'state'; deviceId: string; incarnation: string; ackedSeq: number; lastCounter: number }
  | { kind: 'reported'; deviceId: string; revision: number; body: unknown };

type Kind = 'events' | 'state' | 'time/req' | 'reported/codes';

/** The topics a service subscribes to (a group's shared subscriptions when it has one). */
export function serviceTopics(deviceFilter: string, workerGroup?: string): string[] {
  const share = workerGroup ? `$share/${workerGroup}/` : '';
  return ['events', 'state', 'time/req', 'reported/codes'].map(
    (kind) => `${share}lock/${deviceFilter}/${kind}`,
  );
}

/**
 * The gateway's side of the protocol for every registered lock: stores events once
 * (keyed by device, incarnation and seq), checks their audit chain, acknowledges them
 * cumulatively once it holds them without a hole and hands them to the application in
 * that order, follows the lock's signed state (a new incarnation, an ack or a command
 * counter the lock holds above this gateway's), answers time requests, and records
 * reported code status. Everything it decides comes from the database, so several
 * workers on one database (each getting some of the messages) act as one gateway.
 */
export class GatewayService {
  private readonly channels = new Map<string, DeviceChannel>();
  private readonly unknownUntil = new Map<string, number>();
  /** Messages of a device whose record is being read, in arrival order. */
  private readonly waiting = new Map<string, Array<[Kind, Buffer]>>();
  private readonly ackPending = new Set<string>();
  private inbox: Inbound[] = [];
  private flushScheduled = false;
  private flushing = false;

  constructor(
    private readonly client: GatewayClient,
    private readonly db: GatewayDb,
    private readonly callbacks: ServiceCallbacks = {},
    /** Only these devices ('+' for every registered one). */
    private readonly deviceFilter: string = '+',
    private readonly options: ServiceOptions = {},
  ) {}

  async start(): Promise<void> {
    const topics = serviceTopics(this.deviceFilter, this.options.workerGroup);
    this.client.mqtt.on('message', (topic, payload) => this.onMessage(topic, payload));
    // Every (re)connect subscribes again explicitly: the chaos campaign showed MQTT.js's
    // automatic resubscribe can miss a broker that restarts twice in quick succession,
    // leaving the gateway deaf. Then locks resend what was not acknowledged, and we
    // acknowledge again (acks are idempotent).
    this.client.mqtt.on('connect', () => {
      this.client.mqtt
        .subscribeAsync(topics, { qos: 1 })
        .then(() => {
          for (const id of this.channels.keys()) this.ackPending.add(id);
          this.scheduleFlush();
        })
        .catch((error: Error) => this.callbacks.onWarning?.(`resubscribe failed: ${error.message}`));
    });
    await this.client.mqtt.subscribeAsync(topics, { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const match = /^lock\/([^/]+)\/(events|state|time\/req|reported\/codes)$/.exec(topic);
    if (!match) return;
    const [, deviceId, kind] = match as unknown as [string, string, Kind];
    const channel = this.channels.get(deviceId);
    if (channel) {
      this.handle(channel, deviceId, kind, payload);
      return;
    }
    const queued = this.waiting.get(deviceId);
    if (queued) {
      queued.push([kind, payload]);
      return;
    }
    if ((this.unknownUntil.get(deviceId) ?? 0) > Date.now()) {
      this.callbacks.onWarning?.(`message from unregistered device ${deviceId} ignored`);
      return;
    }
    this.waiting.set(deviceId, [[kind, payload]]);
    void this.loadChannel(deviceId);
  }

  /** Reads the device's record once, then handles what arrived meanwhile, in order. */
  private async loadChannel(deviceId: string): Promise<void> {
    let channel: DeviceChannel | undefined;
    try {
      channel = new DeviceChannel(await getDevice(this.db, deviceId));
      this.channels.set(deviceId, channel);
    } catch {
      this.unknownUntil.set(deviceId, Date.now() + UNKNOWN_DEVICE_RECHECK_MS);
    }
    const queued = this.waiting.get(deviceId) ?? [];
    this.waiting.delete(deviceId);
    if (!channel) {
      this.callbacks.onWarning?.(`message from unregistered device ${deviceId} ignored`);
      return;
    }
    for (const [kind, payload] of queued) this.handle(channel, deviceId, kind, payload);
  }

  /** Verifies one message; what changes the database waits for the next commit. */
  private handle(channel: DeviceChannel, deviceId: string, kind: Kind, payload: Buffer): void {
    if (kind === 'events') {
      const event = channel.open('event', payload, eventSchema);
      if (!event || event.device_id !== deviceId) {
        this.callbacks.onWarning?.(`event from ${deviceId} refused: signature or shape`);
        return;
      }
      this.inbox.push({
        kind: 'event',
        event: {
          deviceId,
          incarnation: event.incarnation,
          seq: event.seq,
          prevSeq: event.prev_seq,
          bootId: event.boot_id,
          at: event.at,
          type: event.type,
          data: event.data,
          hash: event.hash,
          prevHash: event.prev_hash,
          chainBreak: false,
        },
      });
      this.ackPending.add(deviceId);
    } else if (kind === 'state') {
      if (payload.length === 0) return;
      const state = channel.open('state', payload, stateSchema);
      if (!state) {
        this.callbacks.onWarning?.(`state from ${deviceId} refused: signature or shape`);
        return;
      }
      this.inbox.push({
        kind: 'state',
        deviceId,
        incarnation: state.incarnation,
        ackedSeq: state.acked_seq,
        lastCounter: state.last_counter,
      });
      this.ackPending.add(deviceId);
    } else if (kind === 'time/req') {
      const request = channel.open('time_req', payload, timeReqSchema);
      if (!request) return;
      const body = channel.sign('time_res', { nonce: request.nonce, server_time: Date.now() });
      void this.client.mqtt
        .publishAsync(channel.topics.timeRes, JSON.stringify(body), { qos: 1 })
        .catch(() => undefined);
      return;
    } else {
      if (payload.length === 0) return;
      const reported = channel.open('reported_codes', payload, reportedSchema);
      if (!reported) return;
      this.inbox.push({ kind: 'reported', deviceId, revision: reported.revision, body: reported });
    }
    this.scheduleFlush();
  }

  /** One commit at a time; what arrives while one runs goes into the next. */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    this.flushing = true;
    try {
      await this.commit(this.inbox.splice(0), [...this.ackPending.keys()]);
    } finally {
      this.flushing = false;
      if (this.inbox.length > 0 || this.ackPending.size > 0) this.scheduleFlush();
    }
  }

  /**
   * One transaction for the messages since the last commit and the acks they allow;
   * acks, warnings and released events go out only after it. If it fails nothing is
   * acknowledged, and the locks send the events again.
   */
  private async commit(inbox: Inbound[], devices: string[]): Promise<void> {
    this.ackPending.clear();
    const touched = new Set(devices);
    for (const item of inbox) touched.add(item.kind === 'event' ? item.event.deviceId : item.deviceId);
    // A reconnect before any lock spoke: nothing to store (and `IN ()` is not SQL).
    if (touched.size === 0) return;
    let outcome: Awaited<ReturnType<GatewayService['apply']>>;
    try {
      outcome = await this.db.transaction((tx) => this.apply(tx, inbox, devices, touched));
    } catch (error) {
      this.callbacks.onWarning?.(
        `could not store ${inbox.length} message(s): ${(error as Error).message}; the locks will send their events again`,
      );
      return;
    }
    for (const warning of outcome.warnings) this.callbacks.onWarning?.(warning);
    for (const { deviceId, incarnation, seq, released } of outcome.acks) {
      for (const event of released) this.callbacks.onEvent?.(event);
      const channel = this.channels.get(deviceId);
      if (!channel || seq === 0 || incarnation === '') continue;
      const body = channel.sign('events_ack', { seq, incarnation });
      void this.client.mqtt
        .publishAsync(channel.topics.eventsAck, JSON.stringify(body), { qos: 1 })
        .catch(() => undefined);
    }
  }

  private async apply(tx: GatewayDb, inbox: Inbound[], devices: string[], touched: Set<string>) {
    // Each lock's rows are changed by one worker at a time, so the chain checks and the
    // ack see every event another worker stored before.
    await lockDevices(tx, touched);
    // Each device's current incarnation: the stream its ack advances in.
    const ids = [...touched];
    const current = new Map<string, string>();
    for (const row of await tx.all<{ device_id: string; incarnation: string | null }>(
      `SELECT device_id, incarnation FROM devices WHERE device_id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    ))
      current.set(row.device_id, row.incarnation ?? '');
    const warnings: string[] = [];
    const ackDevices = new Set(devices);
    // Every message is judged in arrival order, and its effects are written a few
    // statements per kind whatever their number: incarnations first (a first one adopts
    // the rows stored before it), then events, counters, catch-up acks, reported codes.
    // Nothing else depends on another kind's writes, so this order gives the result of
    // applying the messages one by one; warnings keep their places in arrival order.
    const judged = await noteIncarnations(
      tx,
      inbox.flatMap((item) =>
        item.kind === 'event'
          ? [{ deviceId: item.event.deviceId, incarnation: item.event.incarnation }]
          : item.kind === 'state'
            ? [{ deviceId: item.deviceId, incarnation: item.incarnation }]
            : [],
      ),
    );
    const events: StoredEvent[] = [];
    const raises: { deviceId: string; lastCounter: number; warning: number }[] = [];
    const catchUps: { deviceId: string; incarnation: string; lockAcked: number; warning: number }[] = [];
    const reports: { deviceId: string; revision: number; body: unknown }[] = [];
    /** Reserves the warning's place; filled (or left empty) once its statement ran. */
    const slot = () => warnings.push('') - 1;
    let next = 0;
    const judge = (deviceId: string, incarnation: string): 'current' | 'old' => {
      const change = judged[next++]!;
      if (change.kind === 'reset') warnings.push(`${deviceId}: ${change.note}`);
      if (change.kind === 'old') return 'old';
      current.set(deviceId, incarnation);
      return 'current';
    };
    for (const item of inbox) {
      if (item.kind === 'event') {
        const { event } = item;
        ackDevices.add(event.deviceId);
        if (judge(event.deviceId, event.incarnation) === 'old') continue;
        events.push(event);
      } else if (item.kind === 'state') {
        ackDevices.add(item.deviceId);
        raises.push({ deviceId: item.deviceId, lastCounter: item.lastCounter, warning: slot() });
        // The state names the lock's incarnation and the last seq it holds as acknowledged.
        // Events up to it will never be sent again (a restored gateway, another gateway),
        // so waiting for them would stall the stream: continue after it.
        if (judge(item.deviceId, item.incarnation) === 'old') continue;
        catchUps.push({
          deviceId: item.deviceId,
          incarnation: item.incarnation,
          lockAcked: item.ackedSeq,
          warning: slot(),
        });
      } else {
        reports.push(item);
      }
    }
    const breaks: StoredEvent[] = [];
    (await storeEvents(tx, events)).forEach((result, i) => {
      if (result.stored && result.chainBreak) breaks.push(events[i]!);
    });
    (await raiseCounters(tx, raises)).forEach((moved, i) => {
      const { deviceId, lastCounter, warning } = raises[i]!;
      if (moved)
        warnings[warning] =
          `${deviceId}: the lock accepted commands up to counter ${lastCounter}; this gateway continues above it`;
    });
    (await catchUpAcks(tx, catchUps)).forEach((skipped, i) => {
      const { deviceId, warning } = catchUps[i]!;
      if (skipped)
        warnings[warning] =
          `${deviceId}: the lock had acknowledged events up to ${skipped.seq} before this gateway held them (gateway ack ${skipped.previous}); continuing after ${skipped.seq}`;
    });
    await storeReportedMany(tx, reports);
    const acks = await advanceAcks(
      tx,
      [...ackDevices]
        .filter((deviceId) => current.has(deviceId)) // unregistered ones are skipped
        .map((deviceId) => ({ deviceId, incarnation: current.get(deviceId)! })),
    );
    for (const event of breaks) {
      await setDeviceNote(
        tx,
        event.deviceId,
        `event chain broken at seq ${event.seq} of incarnation ${event.incarnation}: prev_hash does not match the stored neighbour`,
      );
      warnings.push(
        `${event.deviceId}: event chain broken at seq ${event.seq} (incarnation ${event.incarnation}): its hashes do not link to the stored neighbour`,
      );
    }
    return { warnings: warnings.filter((warning) => warning !== ''), acks };
  }
}
