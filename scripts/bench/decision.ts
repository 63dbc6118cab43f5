import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { parseCodeSpec } from '../../firmware/access/code-spec.ts';
import { issueForLock } from '../../firmware/offline-path.ts';
import { SimLock } from '../../keypad-sim/sim-lock.ts';
import { benchDir, percentile, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * Keypress-to-relay decision latency of the real firmware (SimLock: the sim HAL, a
 * SQLite file on disk with the production pragmas), from `submitEntry` to the relay's
 * `drive('unlocked')`, for an ongoing, a one_time and an offline code. The floor is
 * what any lock must do at least: one HMAC-SHA256 of the entry and one INSERT committed
 * with journal_mode=WAL, synchronous=FULL, on its own file, timed the same way.
 * Rounds interleave the four, so a busy disk or CPU slows them alike.
 */

const TARGET = 1.3;
export const KINDS = ['ongoing', 'one_time', 'offline'] as const;
type Kind = (typeof KINDS)[number];

export interface DecisionOptions {
  /** Entries per kind (default 2,000). */
  entries?: number;
}

const ROUNDS = 40;
const ONGOING_PIN = '246813';
const RELOCK_SECONDS = 1;

/** The floor: one bare HMAC of the entry plus one committed INSERT, per entry. */
function openFloor(path: string) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE decisions (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, hash TEXT NOT NULL)');
  const insert = db.prepare<[number, string]>('INSERT INTO decisions (at, hash) VALUES (?, ?)');
  const secret = randomBytes(32);
  return {
    db,
    /** One entry, timed; ms. */
    run(entry: string): number {
      const started = performance.now();
      insert.run(Date.now(), createHmac('sha256', secret).update(entry).digest('hex'));
      return performance.now() - started;
    },
  };
}

export type DecisionKind = Kind;

/** The firmware set up for timed decisions: codes for `perKind` entries of each kind. */
export interface DecisionRig {
  /** One granted entry of `kind` (one-time codes: entry `i` opens code `i`); ms to the relay's drive(). */
  decide(kind: Kind, i: number): Promise<number>;
  /** One floor entry; ms. */
  floor(i: number): number;
  close(): Promise<void>;
}

export async function decisionRig(dir: string, perKind: number): Promise<DecisionRig> {
  mkdirSync(join(dir, 'lock'));
  const lock = await SimLock.create({
    dataDir: join(dir, 'lock'),
    travelMs: 0,
    config: { codeCapacity: perKind + 10, autoRelockSeconds: RELOCK_SECONDS, deviceId: 'bench' },
  });
  const floor = openFloor(join(dir, 'floor.db'));
  const { firmware } = lock;
  const now = lock.hal.rtc.peek().epochMs;
  // The codes: one ongoing, one one_time per entry (each opens once), one permanent offline code.
  firmware.db.transaction(() => {
    const specs = [
      { name: 'ongoing', pin: ONGOING_PIN, kind: 'ongoing' },
      ...Array.from({ length: perKind }, (_, i) => ({
        name: `once-${i}`,
        pin: String(10_000_000 + i),
        kind: 'one_time',
      })),
    ];
    for (const input of specs) {
      const parsed = parseCodeSpec(input);
      if (!parsed.ok) throw new Error(`bench: ${parsed.message}`);
      const added = firmware.codes.add(parsed.spec, { now, capacity: perKind + 10 });
      if (!added.ok) throw new Error(`bench: ${added.message}`);
    }
  })();
  const offline = issueForLock(
    firmware,
    { kind: 'permanent', start: new Date(now).toISOString().slice(0, 10) },
    { timezone: firmware.config.timezone, now },
  ).code;

  // The relay call is the end of the measured path.
  let driven = Number.NaN;
  const actuator = lock.hal.actuator;
  const drive = actuator.drive.bind(actuator);
  actuator.drive = (target) => {
    if (target === 'unlocked') driven = performance.now();
    drive(target);
  };
  const entryFor = (kind: Kind, i: number) =>
    kind === 'ongoing' ? ONGOING_PIN : kind === 'one_time' ? String(10_000_000 + i) : offline;
  return {
    async decide(kind, i) {
      driven = Number.NaN;
      const started = performance.now();
      const record = await firmware.manager.submitEntry(entryFor(kind, i));
      if (record.decision.outcome !== 'granted' || Number.isNaN(driven))
        throw new Error(
          `bench: ${kind} entry ${i} was not granted (${record.decision.outcome === 'denied' ? record.decision.reason : 'no drive'})`,
        );
      const ms = driven - started;
      // Back to locked, untimed: the bolt arrives, auto-relock fires, it arrives again.
      await lock.advance(RELOCK_SECONDS * 1000);
      return ms;
    },
    floor: (i) => floor.run(String(i)),
    async close() {
      floor.db.close();
      await lock.close();
    },
  };
}

export async function benchDecision(options: DecisionOptions = {}): Promise<BenchRow[]> {
  const perKind = options.entries ?? 2000;
  const perRound = Math.max(1, Math.ceil(perKind / ROUNDS));
  const { dir, remove } = benchDir('decision');
  const rig = await decisionRig(dir, perKind);
  try {
    const samples: Record<Kind | 'floor', number[]> = { ongoing: [], one_time: [], offline: [], floor: [] };
    // Warm-up (JIT, page cache), not recorded: a few entries of each.
    for (let i = 0; i < 20; i++) rig.floor(i);
    await rig.decide('ongoing', 0);

    let next = 0;
    for (let round = 0; round < ROUNDS && next < perKind; round++) {
      const end = Math.min(perKind, next + perRound);
      for (let i = next; i < end; i++) samples.floor.push(rig.floor(i));
      for (const kind of KINDS)
        for (let i = next; i < end; i++) samples[kind].push(await rig.decide(kind, i));
      next = end;
    }

    const floorP50 = percentile(samples.floor, 0.5);
    const floorP99 = percentile(samples.floor, 0.99);
    const rows: BenchRow[] = [];
    for (const kind of KINDS) {
      for (const [label, q, base] of [
        ['p50', 0.5, floorP50],
        ['p99', 0.99, floorP99],
      ] as const) {
        const value = percentile(samples[kind], q);
        const ratio = value / base;
        rows.push({
          name: `decision latency, ${kind.replace('_', '-')} code, ${label}`,
          value: round(value * 1000, 0),
          unit: 'us',
          baselineName: `floor ${label}: one HMAC-SHA256 + one INSERT commit (WAL, synchronous=FULL), bare; ours from submitEntry to relay drive()`,
          baseline: round(base * 1000, 0),
          ratio: round(ratio),
          target: `<= ${TARGET}x the floor`,
          pass: ratio <= TARGET,
        });
      }
    }
    return rows;
  } finally {
    await rig.close();
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const row of await benchDecision()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
