import type { TimerHandle } from '../../hal/scheduler.ts';
import type { Firmware } from '../firmware.ts';
import type { Logger } from '../log.ts';
import { Outbox } from '../store/outbox.ts';
import type { MqttConnection } from './connection.ts';
import type { AckRefusal, LinkOptions } from './context.ts';
import { INITIAL_SYNC } from './desired.ts';
import { sign } from './envelope.ts';
import type { Topics } from './topics.ts';

/** How often the publisher checks the outbox bound and whether the gateway's ack is overdue. */
export const PUBLISHER_TICK_MS = 5000;

/**
 * The outbox publisher: sends queued events in seq order from the gateway's last ack,
 * at most `window` QoS 1 publishes in flight; starts again from the last ack after every
 * reconnect and whenever the gateway's ack has not moved for `ackTimeoutMs`; applies
 * acks; keeps the outbox within its bound. Its timers run on the firmware's Scheduler.
 */
export class OutboxPublisher {
  private readonly outbox: Outbox;
  private cursor = 0;
  private inflight = 0;
  private flushing = false;
  private pendingAck = 0;
  private lastAckSeen = -1;
  private lastAckMoved = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly firmware: Firmware,
    private readonly connection: MqttConnection,
    private readonly deviceId: string,
    private readonly topics: Topics,
    private readonly signingKey: Uint8Array,
    private readonly options: LinkOptions,
    private readonly log: Logger,
    /** Called before events are published again after an ack timeout (the link republishes `state`). */
    private readonly beforeResend: () => void,
  ) {
    this.outbox = new Outbox(firmware.db);
  }

  start(): void {
    this.timer = this.firmware.scheduler.every(PUBLISHER_TICK_MS, () => this.tick());
    this.enforceBound();
  }

  stop(): void {
    this.firmware.scheduler.cancel(this.timer);
    this.timer = undefined;
  }

  get depth(): number {
    return this.outbox.depth();
  }

  get ackedSeq(): number {
    return this.firmware.state.get('sync', INITIAL_SYNC).ackedSeq;
  }

  /** A new session: everything after the last ack goes out again, in order. */
  restart(): void {
    this.cursor = this.ackedSeq;
    this.inflight = 0;
    this.lastAckMoved = this.firmware.scheduler.now();
  }

  /** The session dropped: nothing is in flight any more. */
  disconnected(): void {
    this.inflight = 0;
  }

  schedule(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /**
   * Checks a signed ack: it must be for this database's incarnation (an ack from the
   * lock's previous life, replayed, must not delete this life's events) and must not
   * pass the newest event the lock issued (events not yet written cannot be delivered).
   */
  check(seq: number, incarnation: string): AckRefusal | undefined {
    if (incarnation !== this.firmware.incarnation) {
      return {
        error: 'wrong_incarnation',
        message: `ack is for incarnation ${incarnation.slice(0, 32)}, this lock is ${this.firmware.incarnation}`,
      };
    }
    const issued = this.firmware.audit.lastSeq();
    if (seq > issued)
      return {
        error: 'beyond_issued',
        message: `ack seq ${seq} is above the newest event issued (${issued})`,
      };
    return undefined;
  }

  /**
   * Applies a checked ack. Acks are cumulative and idempotent (a lost one only causes a
   * resend), so the ones that arrive in one tick are written in one commit.
   */
  acknowledge(seq: number): void {
    const first = this.pendingAck === 0;
    this.pendingAck = Math.max(this.pendingAck, seq);
    if (!first) return;
    setImmediate(() => {
      const upTo = this.pendingAck;
      this.pendingAck = 0;
      const { firmware } = this;
      if (!firmware.db.open) return; // stopped or powered off meanwhile: the gateway will ack again
      firmware.db
        .transaction(() => {
          const sync = firmware.state.get('sync', INITIAL_SYNC);
          if (upTo <= sync.ackedSeq) return;
          this.outbox.ack(upTo);
          firmware.state.set('sync', { ...sync, ackedSeq: upTo });
        })
        .immediate();
    });
  }

  /** Drops the oldest events beyond the bound (runs every tick; callable any time). */
  enforceBound(): void {
    const dropped = this.outbox.enforceBound(this.options.outboxMax);
    if (!dropped) return;
    this.log.warn('outbox overflow: oldest events dropped', { ...dropped });
    this.firmware.manager.record(
      'outbox_overflow',
      { dropped: dropped.dropped, first_seq: dropped.firstSeq, last_seq: dropped.lastSeq },
      this.firmware.manager.wallNow(),
    );
  }

  /** Publishes queued events in seq order, keeping at most `window` QoS 1 publishes in flight. */
  private flush(): void {
    if (!this.connection.connected || !this.firmware.db.open) return;
    const room = this.options.window - this.inflight;
    if (room <= 0) return;
    for (const event of this.outbox.pending(this.cursor, room)) {
      const prevSeq = this.cursor;
      const body = sign(this.signingKey, 'event', this.deviceId, {
        device_id: this.deviceId,
        incarnation: this.firmware.incarnation,
        boot_id: event.bootId,
        seq: event.seq,
        prev_seq: prevSeq,
        at: new Date(event.at).toISOString(),
        type: event.type,
        data: event.data,
        hash: event.hash,
        prev_hash: event.prevHash,
      });
      const sent = this.connection.publishTracked(this.topics.events, JSON.stringify(body), (error) => {
        this.inflight = Math.max(0, this.inflight - 1);
        if (!error) this.schedule();
      });
      if (!sent) return;
      this.cursor = event.seq;
      this.inflight++;
    }
  }

  private tick(): void {
    if (!this.firmware.db.open) return;
    this.enforceBound();
    this.resendIfUnacknowledged();
    this.schedule();
  }

  /**
   * A broker acknowledges a QoS 1 publish even when no gateway is subscribed (one that is
   * reconnecting, say), so PUBACKs prove nothing about delivery. When events have been
   * published but the gateway's ack has not moved for `ackTimeoutMs`, publish everything
   * after the last ack again (the gateway drops duplicates). Found by the chaos campaign.
   */
  private resendIfUnacknowledged(): void {
    const acked = this.ackedSeq;
    const now = this.firmware.scheduler.now();
    if (acked !== this.lastAckSeen || this.cursor <= acked) {
      this.lastAckSeen = acked;
      this.lastAckMoved = now;
      return;
    }
    if (now - this.lastAckMoved < this.options.ackTimeoutMs) return;
    this.log.info('no ack for published events: publishing again', {
      from_seq: acked + 1,
      to_seq: this.cursor,
    });
    this.beforeResend();
    this.cursor = acked;
    this.inflight = 0;
    this.lastAckMoved = now;
  }
}
