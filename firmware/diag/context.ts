import type { Hal } from '../../hal/index.ts';
import type { Scheduler } from '../../hal/scheduler.ts';
import type { Firmware } from '../firmware.ts';
import type { LogControl } from '../log.ts';

/** What the console shows about the MQTT link (firmware/sync), when there is one. */
export interface DiagLinkStatus {
  connected: boolean;
  /** The broker's address; any user:password in it is masked before it is shown. */
  broker: string;
  /** Events committed but not yet acknowledged by the gateway. */
  outboxDepth: number;
  lastError?: string;
}

export interface DiagLink {
  status(): DiagLinkStatus;
  /**
   * Whether the broker answers now (a ping or a round trip); should settle within a few
   * seconds. Without it, selftest goes by `status().connected`.
   */
  probe?(): Promise<boolean>;
}

/**
 * Everything the serial console reads or calls. The console is an adapter: each
 * command is a thin call into these.
 */
export interface DiagContext {
  readonly firmware: Firmware;
  /** The board, for selftest and keypad test (the sim board's actuator is a SimActuator). */
  readonly hal: Hal;
  /** The firmware's scheduler: session timeout, keypad test and selftest timeouts run on it. */
  readonly scheduler: Scheduler;
  /** `scheduler.now()` when the lock started, for uptime; default 0 (schedulers start at boot). */
  readonly startedAt?: number;
  /**
   * The lock's id on the gateway, which technician tokens name; default the config's
   * (`lockfw run` may take it from the provisioning file instead).
   */
  readonly deviceId?: string;
  /** The MQTT link; absent: status says "not configured" and selftest skips the broker. */
  readonly link?: DiagLink;
  /** The shared log settings, so `log level` can show and change them. */
  readonly logControl?: LogControl;
  /** The Matter node (lockfw run --matter), for `matter pair`; absent: the lock runs without it. */
  readonly matter?: DiagMatter;
}

/** What `matter pair` shows of the Matter node (firmware/matter/start.ts's MatterNode). */
export interface DiagMatter {
  readonly pairing: { manualPairingCode: string; qrPairingCode: string };
  commissioned(): boolean;
  fabrics(): Array<{ index: number; label: string }>;
}

/** The device id tokens and the prompt use. */
export function deviceIdOf(ctx: DiagContext): string {
  return ctx.deviceId ?? ctx.firmware.config.deviceId;
}
