import { z } from 'zod';
import type { GatewayClient } from './client.ts';
import { DeviceChannel } from './client.ts';
import {
  advanceAck,
  type GatewayDb,
  getDevice,
  type StoredEvent,
  storeEvent,
  storeReported,
} from './store.ts';

const eventSchema = z
  .object({
    device_id: z.string(),
    boot_id: z.string(),
    seq: z.number().int().min(1),
    prev_seq: z.number().int().min(0),
    at: z.string(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .strict();

const timeReqSchema = z.object({ nonce: z.string().regex(/^[0-9a-f]{32}$/) }).strict();
const reportedSchema = z.object({ revision: z.number().int().min(0) }).passthrough();

export interface ServiceCallbacks {
  /** A new (not duplicate) event, in arrival order. */
  onEvent?: (event: StoredEvent) => void;
  /** Something was refused (bad signature, unknown device): for logs. */
  onWarning?: (message: string) => void;
}

/**
 * The gateway's side of the protocol for every registered lock: stores events once
 * (deduplicated by device and seq), acknowledges them cumulatively once it holds them
 * without a hole, answers time requests, and records reported code status.
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
    const topics = [`lock/${d}/events`, `lock/${d}/time/req`, `lock/${d}/reported/codes`];
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
    const match = /^lock\/([^/]+)\/(events|time\/req|reported\/codes)$/.exec(topic);
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
      const stored: StoredEvent = {
        deviceId,
        seq: event.seq,
        prevSeq: event.prev_seq,
        bootId: event.boot_id,
        at: event.at,
        type: event.type,
        data: event.data,
      };
      // Stored with the rest of this tick's events in one transaction (one fsync), below.
      this.received.push(stored);
      this.ackPending.add(deviceId);
      this.scheduleAcks();
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

  private scheduleAcks(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const received = this.received.splice(0);
      const devices = [...this.ackPending];
      this.ackPending.clear();
      // One commit for the tick's events and the acks they allow; acks go out only after it.
      const { fresh, acks } = this.db
        .transaction(() => ({
          fresh: received.filter((event) => storeEvent(this.db, event)),
          acks: devices.map((deviceId) => ({ deviceId, seq: advanceAck(this.db, deviceId).seq })),
        }))
        .immediate();
      for (const event of fresh) this.callbacks.onEvent?.(event);
      for (const { deviceId, seq } of acks) {
        const channel = this.channel(deviceId);
        if (!channel || seq === 0) continue;
        const body = channel.sign('events_ack', { seq });
        void this.client.mqtt
          .publishAsync(channel.topics.eventsAck, JSON.stringify(body), { qos: 1 })
          .catch(() => undefined);
      }
    });
  }
}
