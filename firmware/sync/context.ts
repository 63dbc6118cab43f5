import type { Firmware } from '../firmware.ts';
import type { Logger } from '../log.ts';
import type { MessageKind } from './envelope.ts';
import type { Topics } from './topics.ts';

/** What a message handler may use: the firmware, the keys, and a way to publish signed messages. */
export interface LinkContext {
  readonly firmware: Firmware;
  readonly deviceId: string;
  readonly topics: Topics;
  readonly signingKey: Uint8Array;
  readonly pinKey: Uint8Array;
  readonly log: Logger;
  readonly options: LinkOptions;
  /** Signs `body` as `kind` and publishes it (QoS 1). */
  publishSigned(
    topic: string,
    kind: MessageKind,
    body: Record<string, unknown>,
    retain?: boolean,
  ): Promise<void>;
  /** Publishes an unsigned payload (QoS 1): Home Assistant's topics only. */
  publishPlain(topic: string, payload: string, retain?: boolean): Promise<void>;
  publishState(): void;
  /** Starts a time-sync exchange; resolves with its result (docs/protocol.md). */
  syncTime(): Promise<TimeSyncResult>;
  /**
   * The gateway holds every event up to `seq` of `incarnation`: applied, or refused (an
   * ack for another incarnation, or beyond the newest event issued).
   */
  acknowledge(seq: number, incarnation: string): AckRefusal | undefined;
  /** Audits a refused inbound message, coalesced (firmware/sync/rejections.ts). */
  reject(topic: string, error: string, message: string): void;
}

export type AckRefusal = { error: 'wrong_incarnation' | 'beyond_issued'; message: string };

export interface LinkOptions {
  url: string;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  /** Outbox bound: beyond it the oldest events are dropped with an outbox_overflow event. */
  outboxMax: number;
  /** Publish window: QoS 1 events in flight at once. */
  window: number;
  /** Published events whose gateway ack has not come within this are published again. */
  ackTimeoutMs: number;
  /** Time sync: the longest round trip accepted (accuracy is half of it). */
  maxRoundTripMs: number;
  /** Home Assistant: publish discovery config; accept UNLOCK from it (opt-in). */
  homeAssistant: { discovery: boolean; allowUnlock: boolean };
  /** A `--hal sim` lock's keypad, for the `sim_keypad` command; absent on real hardware. */
  simKeypad?: (keys: string) => void;
}

export type TimeSyncResult =
  | { ok: true; offset_ms: number; rtt_ms: number; accuracy_ms: number; time: string }
  | {
      ok: false;
      error: 'rtt_too_long' | 'timeout' | 'not_connected' | 'backward_unconfirmed';
      message: string;
    };
