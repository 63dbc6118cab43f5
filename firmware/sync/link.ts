import type { Firmware } from '../firmware.ts';
import type { LockStatus } from '../lock-manager.ts';
import type { Logger } from '../log.ts';
import { deriveDeviceKeys } from '../provisioning.ts';
import { MqttConnection } from './connection.ts';
import type { AckRefusal, LinkContext, LinkOptions, TimeSyncResult } from './context.ts';
import { INITIAL_SYNC } from './desired.ts';
import type { MessageKind } from './envelope.ts';
import { onCommand } from './handlers/cmd.ts';
import { onDesiredCodes } from './handlers/desired-codes.ts';
import { onEventsAck } from './handlers/events-ack.ts';
import { onHomeAssistantSet } from './handlers/ha-set.ts';
import { onTimeResponse } from './handlers/time-res.ts';
import { homeAssistantDiscovery, homeAssistantState } from './home-assistant.ts';
import { pinKey } from './pin-crypto.ts';
import { OutboxPublisher } from './publisher.ts';
import { RejectionLog } from './rejections.ts';
import { TimeSync } from './time-sync.ts';
import { type Topics, topicsFor } from './topics.ts';

export { noDelay } from './connection.ts';

export interface LinkStatus {
  connected: boolean;
  broker: string;
  outboxDepth: number;
  ackedSeq: number;
  lastError?: string;
}

/**
 * The lock's MQTT link: the connection (connection.ts), the event outbox publisher
 * (publisher.ts), time sync (time-sync.ts), coalesced refusals (rejections.ts), signed
 * state and reports, and one handler per incoming topic. Handlers are thin forwards
 * into the lock manager. Every timer runs on the firmware's Scheduler.
 */
export class SyncLink implements LinkContext {
  readonly topics: Topics;
  readonly signingKey: Uint8Array;
  readonly pinKey: Uint8Array;
  readonly log: Logger;
  private readonly connection: MqttConnection;
  private readonly publisher: OutboxPublisher;
  private readonly time: TimeSync;
  private readonly rejections: RejectionLog;
  private statePending = false;
  private started = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    readonly firmware: Firmware,
    readonly deviceId: string,
    readonly options: LinkOptions,
  ) {
    this.topics = topicsFor(deviceId);
    this.signingKey = deriveDeviceKeys(firmware.secret).signing;
    this.pinKey = pinKey(firmware.secret);
    this.log = firmware.log.child('sync');
    this.connection = new MqttConnection(options, deviceId, this.topics, this.signingKey, this.log);
    this.publisher = new OutboxPublisher(
      firmware,
      this.connection,
      deviceId,
      this.topics,
      this.signingKey,
      options,
      this.log,
      () => this.publishState(),
    );
    this.time = new TimeSync(firmware, this.connection, this.topics, options.maxRoundTripMs, () =>
      this.publishState(),
    );
    this.rejections = new RejectionLog(firmware, this.log);
  }

  /** The MQTT.js client while started (the fleet drops its socket to force a reconnect). */
  get mqtt() {
    return this.connection.mqtt;
  }

  start(): void {
    if (this.started) throw new Error('SyncLink.start: already started');
    this.started = true;
    this.connection.open({
      onConnect: () => this.onConnect(),
      onClose: () => this.publisher.disconnected(),
      onMessage: (topic, payload) => this.onMessage(topic, payload),
    });
    this.unsubscribe.push(
      this.firmware.manager.onEvent((event) => {
        if (event.type === 'audit') this.publisher.schedule();
        if (event.type === 'lock' || event.type === 'mode') this.publishState();
        if (event.type === 'audit' && /^(door|clock_|mode_|lock_state|jammed)/.test(event.row.type))
          this.publishState();
      }),
    );
    this.publisher.start();
  }

  async stop(): Promise<void> {
    this.publisher.stop();
    this.rejections.flush();
    for (const off of this.unsubscribe.splice(0)) off();
    await this.connection.close();
  }

  status(): LinkStatus {
    const lastError = this.connection.lastError;
    return {
      connected: this.connection.connected,
      broker: this.options.url,
      outboxDepth: this.publisher.depth,
      ackedSeq: this.publisher.ackedSeq,
      ...(lastError ? { lastError } : {}),
    };
  }

  publishSigned(
    topic: string,
    kind: MessageKind,
    body: Record<string, unknown>,
    retain = false,
  ): Promise<void> {
    return this.connection.publishSigned(topic, kind, body, retain);
  }

  /** Unsigned publish, for Home Assistant's topics (Home Assistant cannot verify a signature). */
  publishPlain(topic: string, payload: string, retain = false): Promise<void> {
    return this.connection.publish(topic, payload, retain);
  }

  /** Publishes the retained state (and Home Assistant's), coalescing bursts. */
  publishState(): void {
    if (this.statePending) return;
    this.statePending = true;
    setImmediate(() => {
      this.statePending = false;
      if (!this.connection.connected || !this.firmware.db.open) return;
      const status = this.firmware.manager.status();
      void this.publishSigned(this.topics.state, 'state', this.stateBody(status), true);
      if (this.options.homeAssistant.discovery)
        void this.connection.publish(this.topics.haState, homeAssistantState(status.lock), true);
    });
  }

  acknowledge(seq: number, incarnation: string): AckRefusal | undefined {
    const refused = this.publisher.check(seq, incarnation);
    if (!refused) this.publisher.acknowledge(seq);
    return refused;
  }

  reject(topic: string, error: string, message: string): void {
    this.rejections.note(topic, error, message);
  }

  /** NTP-style exchange: the lock times the round trip on its monotonic clock. */
  syncTime(): Promise<TimeSyncResult> {
    return this.time.request();
  }

  /** Drops the oldest events beyond the bound (runs every few seconds; callable any time). */
  enforceBound(): void {
    this.publisher.enforceBound();
  }

  /**
   * What a gateway needs to know where it stands: besides the lock's own state, the
   * database incarnation, the last event seq the lock holds as acknowledged and the last
   * command counter it accepted.
   */
  private stateBody(status: LockStatus): Record<string, unknown> {
    const sync = this.firmware.state.get('sync', INITIAL_SYNC);
    return {
      lock: status.lock,
      mode: status.mode,
      door: status.door,
      clock_trusted: status.clockTrusted,
      clock_untrusted_reason: status.clockUntrustedReason,
      lockout: status.lockout.active,
      applied_revision: sync.appliedRevision,
      boot_id: this.firmware.bootId,
      incarnation: this.firmware.incarnation,
      acked_seq: this.publisher.ackedSeq,
      last_counter: sync.lastCounter,
      at: new Date(this.firmware.manager.wallNow()).toISOString(),
    };
  }

  private onConnect(): void {
    const { topics } = this;
    this.publisher.restart();
    void this.connection.publish(topics.availability, 'online', true);
    if (this.options.homeAssistant.discovery) {
      const config = homeAssistantDiscovery(this.deviceId, topics);
      void this.connection.publish(topics.haDiscovery, JSON.stringify(config), true);
    }
    const subscriptions = [topics.desiredCodes, topics.eventsAck, topics.cmd, topics.timeRes];
    if (this.options.homeAssistant.discovery) subscriptions.push(topics.haSet);
    this.connection
      .subscribe(subscriptions)
      .then(() => {
        if (!this.firmware.db.open) return;
        this.publishState();
        const sync = this.firmware.state.get('sync', INITIAL_SYNC);
        if (sync.reported)
          void this.publishSigned(topics.reportedCodes, 'reported_codes', { ...sync.reported }, true);
        this.publisher.schedule();
        if (this.time.dueAtConnect())
          void this.syncTime().then((result) => this.log.info('time sync at connect', { ...result }));
      })
      .catch(() => undefined);
  }

  /** Messages are handled one at a time, in arrival order. */
  private onMessage(topic: string, payload: Buffer): void {
    // A time_sync command waits in the queue for this answer: take it at once, and timed.
    if (topic === this.topics.timeRes) {
      onTimeResponse(this, payload, this.time.pending, this.firmware.scheduler.now());
      return;
    }
    this.queue = this.queue
      .then(() => this.dispatch(topic, payload))
      .catch((error: Error) => this.log.error('handler failed', { topic, error: error.message }));
  }

  private async dispatch(topic: string, payload: Buffer): Promise<void> {
    if (!this.firmware.db.open) return;
    const { topics } = this;
    if (topic === topics.desiredCodes) await onDesiredCodes(this, payload);
    else if (topic === topics.eventsAck) onEventsAck(this, payload);
    else if (topic === topics.cmd) {
      await onCommand(this, payload);
      this.publishState(); // its last_counter tells a gateway that lost its counter where to go on
    } else if (topic === topics.haSet) await onHomeAssistantSet(this, payload);
  }
}
