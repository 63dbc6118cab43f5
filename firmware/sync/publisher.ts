import type { TimerHandle } from '../../hal/scheduler.ts';
import type { Firmware } from '../firmware.ts';
import type { Logger } from '../log.ts';
import { Outbox, type OutboxEvent } from '../store/outbox.ts';
import { isStorageError } from '../store/storage-health.ts';
import { canonicalJson } from './canonical.ts';
import type { MqttConnection } from './connection.ts';
import type { AckRefusal, LinkOptions } from './context.ts';
import { canonicalSignature } from './envelope.ts';
import type { Topics } from './topics.ts';

/** How often the publisher checks the outbox bound and whether the gateway's ack is overdue. */
export const PUBLISHER_TICK_MS = 5000;
/** Events read from the outbox per query (at least the window). */
const PAGE_EVENTS = 256;

/**
 * The outbox publisher: sends queued events in seq order from the gateway's last ack,
 * at most `window` QoS 1 publishes in flight; starts again from the last ack after every
 * reconnect and whenever the gateway's ack has not moved for `ackTimeoutMs`; applies
 * acks; keeps the outbox within its bound. Its timers run on the firmware's Scheduler.
 */
export class OutboxPublisher {
  private readonly outbox: Outbox;
  private cursor = 0;
  /** Events read from the tail and not yet published: the outbox is read a page at a time. */
  private page: OutboxEvent[] = [];
  private pageIndex = 0;
  private inflight = 0;
  private flushing = false;
  /** The newest ack heard; written with the next ack write. */
  private heardAck = 0;
  private ackWriteQueued = false;
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
    this.deviceIdJson = JSON.stringify(deviceId);
  }

  start(): void {
    this.timer = this.firmware.scheduler.every(PUBLISHER_TICK_MS, () => this.tick());
    this.enforceBound();
  }

  stop(): void {
    this.firmware.scheduler.cancel(this.timer);
    this.timer = undefined;
    this.writeAck();
  }

  get depth(): number {
    return this.outbox.depth();
  }

  /** The outbox's start: every event up to it was acknowledged (or dropped on overflow). */
  get ackedSeq(): number {
    return this.outbox.ackedSeq();
  }

  /** A new session: everything after the last ack goes out again, in order. */
  restart(): void {
    this.rewind(this.ackedSeq);
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
   * resend), so while a backlog drains one commit covers a window of events (and the
   * publisher's tick writes what is left); an ack that reaches the newest event is
   * written at once.
   */
  acknowledge(seq: number): void {
    this.heardAck = Math.max(this.heardAck, seq);
    const caughtUp = this.heardAck >= this.firmware.audit.lastSeq();
    if (!caughtUp && this.heardAck - this.ackedSeq < this.options.window) return;
    if (this.ackWriteQueued) return;
    this.ackWriteQueued = true;
    setImmediate(() => {
      this.ackWriteQueued = false;
      this.writeAck();
    });
  }

  /** Writes the newest ack heard, if it moves the outbox's start. */
  private writeAck(): void {
    const { firmware } = this;
    if (!firmware.db.open) return; // stopped or powered off meanwhile: the gateway will ack again
    const upTo = this.heardAck;
    if (upTo <= this.ackedSeq || firmware.db.inTransaction) return;
    // Written without waiting for the disk (synchronous=NORMAL for this one commit): a
    // power cut may forget it, and the events go out again (the gateway drops
    // duplicates); the next FULL commit syncs it with everything before it.
    firmware.db.pragma('synchronous = NORMAL');
    try {
      // One number moves (firmware/store/outbox.ts); a lower or repeated ack changes nothing.
      firmware.db.transaction(() => this.outbox.ack(upTo)).immediate();
    } catch (error) {
      // Full disk: the events stay queued and go out again; the gateway acks them again.
      if (!isStorageError(error)) throw error;
      this.log.warn('ack not written', { seq: upTo, error: (error as Error).message });
    } finally {
      firmware.db.pragma('synchronous = FULL');
    }
  }

  /** Drops the oldest events beyond the bound (runs every tick; callable any time). */
  enforceBound(): void {
    let dropped: ReturnType<Outbox['enforceBound']>;
    try {
      dropped = this.outbox.enforceBound(this.options.outboxMax);
    } catch (error) {
      if (!isStorageError(error)) throw error;
      this.log.warn('outbox bound not enforced', { error: (error as Error).message });
      return;
    }
    if (!dropped) return;
    // Dropped events are not sent: go on after them (or from where we were, if later).
    if (this.cursor < dropped.lastSeq) this.rewind(dropped.lastSeq);
    this.log.warn('outbox overflow: oldest events dropped', { ...dropped });
    this.firmware.manager.note(
      'outbox_overflow',
      { dropped: dropped.dropped, first_seq: dropped.firstSeq, last_seq: dropped.lastSeq },
      this.firmware.manager.wallNow(),
    );
  }

  /** Publishing goes on from `seq` (the events after it go out next). */
  private rewind(seq: number): void {
    this.cursor = seq;
    this.page = [];
    this.pageIndex = 0;
  }

  /**
   * Publishes queued events in seq order, keeping at most `window` QoS 1 publishes in
   * flight: the tail is read a page at a time (not one query per free slot), and each
   * event is serialised once (its canonical JSON is both what is signed and what is sent).
   */
  private flush(): void {
    if (!this.connection.connected || !this.firmware.db.open) return;
    while (this.inflight < this.options.window) {
      if (this.pageIndex >= this.page.length) {
        this.page = this.outbox.pending(this.cursor, Math.max(PAGE_EVENTS, this.options.window));
        this.pageIndex = 0;
        if (this.page.length === 0) return;
      }
      const event = this.page[this.pageIndex]!;
      const payload = this.eventPayload(event, this.cursor);
      const sent = this.connection.publishTracked(this.topics.events, payload, this.published);
      if (!sent) return;
      this.cursor = event.seq;
      this.pageIndex++;
      this.inflight++;
    }
  }

  private readonly deviceIdJson: string;

  private readonly published = (error?: Error) => {
    this.inflight = Math.max(0, this.inflight - 1);
    if (!error) this.schedule();
  };

  /** The signed event (docs/protocol.md, Events): canonical JSON with its `sig` added. */
  private eventPayload(event: OutboxEvent, prevSeq: number): string {
    // canonicalJson of the event, its keys written in sorted order by hand: only `data`
    // (stored as written, not sorted) is put through it.
    const body =
      `{"at":"${new Date(event.at).toISOString()}","boot_id":${JSON.stringify(event.bootId)}` +
      `,"data":${canonicalJson(JSON.parse(event.dataJson))},"device_id":${this.deviceIdJson}` +
      `,"hash":${JSON.stringify(event.hash)},"incarnation":${JSON.stringify(this.firmware.incarnation)}` +
      `,"prev_hash":${JSON.stringify(event.prevHash)},"prev_seq":${prevSeq},"seq":${event.seq}` +
      `,"type":${JSON.stringify(event.type)}}`;
    const sig = canonicalSignature(this.signingKey, 'event', this.deviceId, body);
    // The receiver drops `sig` and canonicalises the rest again: its place does not matter.
    return `${body.slice(0, -1)},"sig":"${sig}"}`;
  }

  private tick(): void {
    if (!this.firmware.db.open) return;
    this.writeAck();
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
    this.rewind(acked);
    this.inflight = 0;
    this.lastAckMoved = now;
  }
}
