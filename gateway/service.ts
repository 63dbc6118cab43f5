import { z } from 'zod';
import type { GatewayClient } from './client.ts';
import { DeviceChannel } from './client.ts';
import {
  advanceAck,
  catchUpAck,
  type GatewayDb,
  getDevice,
  listEvents,
  noteIncarnation,
  raiseCounter,
  type StoredEvent,
  setDeviceNote,
  storeEvent,
  storeReported,
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

export interface ServiceCallbacks {
  /**
   * Each event once, in seq order within the lock's incarnation, as soon as the gateway
   * holds it and every event the lock queued before it (that is, when it acknowledges it).
   */
  onEvent?: (event: StoredEvent) => void;
  /** Something for the operator: a refusal, a lock reset, a broken chain, a skipped range. */
  onWarning?: (message: string) => void;
}

/**
 * The gateway's side of the protocol for every registered lock: stores events once
 * (keyed by device, incarnation and seq), checks their audit chain, acknowledges them
 * cumulatively once it holds them without a hole and hands them to the application in
 * that order, follows the lock's signed state (a new incarnation, an ack or a command
 * counter the lock holds above this gateway's), answers time requests, and records
 * reported code status.
 */
export class GatewayService {
  private readonly channels = new Map<string, DeviceChannel | null>();
  private readonly ackPending = new Set<string>();
  private readonly received: StoredEvent[] = [];
  private ackScheduled = false;

  constructor(
    private readonly client: GatewayClient,
    private readonly db: GatewayDb,
    private readonly callbacks: ServiceCallbacks = {},
    /** Only these devices ('+' for every registered one). */
    private readonly deviceFilter: string = '+',
  ) {}

  async start(): Promise<void> {
    const d = this.deviceFilter;
    const topics = [`lock/${d}/events`, `lock/${d}/state`, `lock/${d}/time/req`, `lock/${d}/reported/codes`];
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
          this.scheduleAcks();
        })
        .catch((error: Error) => this.callbacks.onWarning?.(`resubscribe failed: ${error.message}`));
    });
    await this.client.mqtt.subscribeAsync(topics, { qos: 1 });
  }

  private channel(deviceId: string): DeviceChannel | null {
    if (!this.channels.has(deviceId)) {
      try {
        this.channels.set(deviceId, new DeviceChannel(getDevice(this.db, deviceId)));
      } catch {
        this.channels.set(deviceId, null);
      }
    }
    return this.channels.get(deviceId)!;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const match = /^lock\/([^/]+)\/(events|state|time\/req|reported\/codes)$/.exec(topic);
    if (!match) return;
    const [, deviceId, kind] = match as unknown as [string, string, string];
    const channel = this.channel(deviceId);
    if (!channel) {
      this.callbacks.onWarning?.(`message from unregistered device ${deviceId} ignored`);
      return;
    }
    if (kind === 'events') {
      const event = channel.open('event', payload, eventSchema);
      if (!event || event.device_id !== deviceId) {
        this.callbacks.onWarning?.(`event from ${deviceId} refused: signature or shape`);
        return;
      }
      // Stored with the rest of this tick's events in one transaction (one fsync), below.
      this.received.push({
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
      });
      this.ackPending.add(deviceId);
      this.scheduleAcks();
    } else if (kind === 'state') {
      if (payload.length === 0) return;
      const state = channel.open('state', payload, stateSchema);
      if (!state) {
        this.callbacks.onWarning?.(`state from ${deviceId} refused: signature or shape`);
        return;
      }
      if (raiseCounter(this.db, deviceId, state.last_counter))
        this.callbacks.onWarning?.(
          `${deviceId}: the lock accepted commands up to counter ${state.last_counter}; this gateway continues above it`,
        );
      this.followState(deviceId, state.incarnation, state.acked_seq);
    } else if (kind === 'time/req') {
      const request = channel.open('time_req', payload, timeReqSchema);
      if (!request) return;
      const body = channel.sign('time_res', { nonce: request.nonce, server_time: Date.now() });
      void this.client.mqtt
        .publishAsync(channel.topics.timeRes, JSON.stringify(body), { qos: 1 })
        .catch(() => undefined);
    } else {
      if (payload.length === 0) return;
      const reported = channel.open('reported_codes', payload, reportedSchema);
      if (reported) storeReported(this.db, deviceId, reported.revision, reported);
    }
  }

  /** A new incarnation is a new stream; the operator is told the lock was reset. */
  private noteIncarnation(deviceId: string, incarnation: string): 'current' | 'old' {
    const change = noteIncarnation(this.db, deviceId, incarnation);
    if (change.kind === 'reset') this.callbacks.onWarning?.(`${deviceId}: ${change.note}`);
    return change.kind === 'old' ? 'old' : 'current';
  }

  /**
   * The lock's state names its incarnation and the last seq it holds as acknowledged.
   * Events up to that seq will never be sent again (a restored gateway, another gateway),
   * so waiting for them would stall the stream: continue after it.
   */
  private followState(deviceId: string, incarnation: string, lockAcked: number): void {
    if (this.noteIncarnation(deviceId, incarnation) === 'old') return;
    const skipped = catchUpAck(this.db, deviceId, incarnation, lockAcked);
    if (skipped) {
      this.callbacks.onWarning?.(
        `${deviceId}: the lock had acknowledged events up to ${skipped.seq} before this gateway held them (gateway ack ${skipped.previous}); continuing after ${skipped.seq}`,
      );
    }
    this.ackPending.add(deviceId);
    this.scheduleAcks();
  }

  private scheduleAcks(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const received = this.received.splice(0);
      const devices = [...this.ackPending];
      this.ackPending.clear();
      // One commit for the tick's events and the acks they allow; acks go out only after it.
      const { breaks, acks } = this.db
        .transaction(() => {
          const breaks: StoredEvent[] = [];
          const streams = new Map<string, 'current' | 'old'>(); // once per device and incarnation a tick
          for (const event of received) {
            const stream = `${event.deviceId}\n${event.incarnation}`;
            let kind = streams.get(stream);
            if (!kind) {
              kind = this.noteIncarnation(event.deviceId, event.incarnation);
              streams.set(stream, kind);
            }
            if (kind === 'old') continue;
            const result = storeEvent(this.db, event);
            if (result.stored && result.chainBreak) breaks.push(event);
          }
          const acks = devices.map((deviceId) => {
            const ack = advanceAck(this.db, deviceId);
            const released =
              ack.seq > ack.previous
                ? listEvents(this.db, deviceId, ack.previous, ack.seq - ack.previous, ack.incarnation)
                : [];
            return { deviceId, ...ack, released };
          });
          for (const event of breaks) {
            setDeviceNote(
              this.db,
              event.deviceId,
              `event chain broken at seq ${event.seq} of incarnation ${event.incarnation}: prev_hash does not match the stored neighbour`,
            );
          }
          return { breaks, acks };
        })
        .immediate();
      for (const event of breaks) {
        this.callbacks.onWarning?.(
          `${event.deviceId}: event chain broken at seq ${event.seq} (incarnation ${event.incarnation}): its hashes do not link to the stored neighbour`,
        );
      }
      for (const { deviceId, incarnation, seq, released } of acks) {
        for (const event of released) this.callbacks.onEvent?.(event);
        const channel = this.channel(deviceId);
        if (!channel || seq === 0 || incarnation === '') continue;
        const body = channel.sign('events_ack', { seq, incarnation });
        void this.client.mqtt
          .publishAsync(channel.topics.eventsAck, JSON.stringify(body), { qos: 1 })
          .catch(() => undefined);
      }
    });
  }
}
