/** What the fleet's coordinator (scripts/fleet/run.ts) and its lock processes (lock-proc.ts) say over IPC. */

export interface ShardSetup {
  /** Device ids of this process's locks. */
  ids: string[];
  /** Index of ids[0] in the whole fleet (the resident PINs are 100000 + fleet index). */
  firstIndex: number;
  url: string;
  /** The gateway database the locks are registered in (a SQLite file or postgres:// URL). */
  db: string;
  /** Parent of the locks' data dirs. */
  root: string;
  lockSync: 'full' | 'normal' | 'off';
  /** This process's share of the fleet's traffic, per second. */
  rate: number;
  pushesPerSecond: number;
  reconnectsPerSecond: number;
  validFraction: number;
}

/** One second of one lock process. */
export interface ShardWindow {
  connected: number;
  entries: number;
  decisions: number;
  latencies: number[];
  errors: number;
}

export interface ShardStream {
  id: string;
  incarnation: string;
  lastSeq: number;
  ackedSeq: number;
}

export interface ShardReport {
  locks: number;
  traffic: {
    entries: number;
    decisions: number;
    granted: number;
    denied: number;
    skippedBusy: number;
    pushes: number;
    pushesApplied: number;
    reconnects: number;
  };
  /** Keypress to the gateway's acknowledgement of the decision event, ms. */
  latencies: number[];
  pushLatencies: number[];
  errors: Record<string, number>;
  errorSamples: string[];
  warnings: number;
  trafficSeconds: number;
  cpuSeconds: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  memory: { rssBeforeMb: number; rssAfterStartMb: number; peakRssMb: number; heapUsedMb: number };
  connectedAtStart: number;
  connectedAtEnd: number;
  streams: ShardStream[];
  openFds: number;
  fdLimit: number | null;
}

export type ToShard =
  | { type: 'setup'; setup: ShardSetup }
  | { type: 'connect' }
  | { type: 'traffic'; durationMs: number }
  | { type: 'stop' }
  | { type: 'shutdown' };

export type FromShard =
  | { type: 'registered' }
  | { type: 'progress'; line: string }
  | { type: 'connected'; connected: number }
  | { type: 'window'; window: ShardWindow }
  | { type: 'done'; report: ShardReport }
  | { type: 'closed' }
  | { type: 'failed'; message: string };
