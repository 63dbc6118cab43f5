import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openStore, type StoreParts } from '../../firmware/firmware.ts';
import { hashPin } from '../../firmware/store/codes.ts';
import { openDatabase } from '../../firmware/store/db.ts';
import { applyDesiredCodes } from '../../firmware/sync/desired.ts';
import type { DesiredCodes } from '../../firmware/sync/messages.ts';
import { pinKey } from '../../firmware/sync/pin-crypto.ts';
import { benchDir, median, prng, randomDigits, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * The code store against raw better-sqlite3 on the same file and rows:
 * - lookups (CodeStore.findByPin) with 10,000 stored codes, half hits, half misses,
 *   against one HMAC plus a bare prepared `SELECT ... WHERE pin_hash = ?`;
 * - applying a 1,000-code desired/codes document (applyDesiredCodes: one transaction,
 *   one commit) to a fresh store, against a raw bulk INSERT of the same rows (hashes
 *   precomputed) in one transaction on a fresh file with the same schema and pragmas.
 */

const LOOKUP_TARGET = 2;
const APPLY_TARGET = 2;
const DEVICE = 'bench';

export interface StoreOptions {
  /** Stored codes for the lookup rows (default 10,000). */
  stored?: number;
  /** Codes in the desired document (default 1,000). */
  desired?: number;
  /** Fresh-store repetitions of the apply (default 11; the median counts). */
  applyRuns?: number;
}

function nsPerCall(fn: (i: number) => unknown, calls: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn(i);
  return Number(process.hrtime.bigint() - started) / calls;
}

/** A gateway document of `count` codes, a mix of the kinds a rental gateway pushes. */
function desiredDocument(count: number, now: number): DesiredCodes {
  const day = 86_400_000;
  const codes = Array.from({ length: count }, (_, i) => {
    const base = { ref: `guest-${i}`, name: `guest ${i}`, pin: String(20_000_000 + i * 7) };
    switch (i % 3) {
      case 0:
        return { ...base, kind: 'ongoing' };
      case 1:
        return {
          ...base,
          kind: 'time_bound',
          starts_at: new Date(now + (i % 30) * day).toISOString(),
          ends_at: new Date(now + ((i % 30) + 3) * day).toISOString(),
        };
      default:
        return {
          ...base,
          kind: 'recurring',
          schedule: { days: ['tue', 'thu'], from: '10:00', to: '12:00' },
        };
    }
  });
  return { revision: 1, issued_at: new Date(now).toISOString(), codes };
}

function applyContext(parts: StoreParts, capacity: number) {
  return {
    db: parts.db,
    codes: parts.codes,
    audit: parts.audit,
    state: parts.state,
    deviceId: DEVICE,
    pinKey: pinKey(parts.secret),
    capacity,
  };
}

export async function benchStore(options: StoreOptions = {}): Promise<BenchRow[]> {
  const stored = options.stored ?? 10_000;
  const desired = options.desired ?? 1000;
  const applyRuns = options.applyRuns ?? 11;
  const { dir, remove } = benchDir('store');
  const now = Date.now();
  try {
    // --- lookups -------------------------------------------------------------------
    mkdirSync(join(dir, 'lookup'));
    const parts = openStore(join(dir, 'lookup'));
    const applied = applyDesiredCodes(applyContext(parts, stored), desiredDocument(stored, now), now);
    if (!applied.applied || applied.report.codes.some((c) => c.status === 'error'))
      throw new Error('bench: the lookup store did not fill');
    const next = prng(0x5703e);
    const entries = Array.from({ length: 1024 }, (_, i) =>
      i % 2 ? String(20_000_000 + Math.floor(next() * stored) * 7) : randomDigits(next, 8),
    );
    const raw = parts.db.prepare<[string], Record<string, unknown>>('SELECT * FROM codes WHERE pin_hash = ?');
    const ours = (i: number) => parts.codes.findByPin(entries[i & 1023]!);
    const bare = (i: number) => raw.get(hashPin(parts.secret, entries[i & 1023]!));
    if (!ours(1) || !bare(1)) throw new Error('bench: a stored code was not found');
    nsPerCall(ours, 5000);
    nsPerCall(bare, 5000);
    const ourRuns: number[] = [];
    const rawRuns: number[] = [];
    for (let round = 0; round < 15; round++) {
      rawRuns.push(nsPerCall(bare, 2000));
      ourRuns.push(nsPerCall(ours, 2000));
    }
    parts.db.close();
    const lookupNs = median(ourRuns);
    const rawLookupNs = median(rawRuns);

    // --- desired/codes apply ---------------------------------------------------------
    const doc = desiredDocument(desired, now);
    const applyMs: number[] = [];
    const insertMs: number[] = [];
    for (let run = 0; run < applyRuns; run++) {
      const lockDir = join(dir, `apply-${run}`);
      mkdirSync(lockDir);
      const fresh = openStore(lockDir);
      const ctx = applyContext(fresh, desired + 10);
      let started = performance.now();
      const outcome = applyDesiredCodes(ctx, doc, now);
      applyMs.push(performance.now() - started);
      if (!outcome.applied || outcome.report.codes.some((c) => c.status === 'error'))
        throw new Error('bench: the desired document did not apply cleanly');
      // The same rows, as the store holds them, for the raw insert.
      const rows = fresh.db.prepare('SELECT * FROM codes ORDER BY id').all() as Array<
        Record<string, unknown>
      >;
      fresh.db.close();

      const rawDb = openDatabase(join(dir, `raw-${run}.db`));
      const columns = Object.keys(rows[0]!).filter((c) => c !== 'id');
      const insert = rawDb.prepare(
        `INSERT INTO codes (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
      );
      const bulk = rawDb.transaction((all: Array<Record<string, unknown>>) => {
        for (const row of all) insert.run(row);
      });
      started = performance.now();
      bulk.immediate(rows.map(({ id: _id, ...row }) => row));
      insertMs.push(performance.now() - started);
      rawDb.close();
    }
    const apply = median(applyMs);
    const insert = median(insertMs);
    // Judged by the median of each run's own ratio: a run and its raw insert are made
    // back to back, so a load spike on the shared machine hits both sides of a pair.
    const applyRatio = median(applyMs.map((ms, i) => ms / insertMs[i]!));
    // A cross-check that the HMACs are not what the raw path skips: one per code.
    const hmacMs = (() => {
      const key = Buffer.alloc(32, 1);
      const started = performance.now();
      for (const code of doc.codes) createHmac('sha256', key).update(String(code.pin)).digest('hex');
      return performance.now() - started;
    })();

    return [
      {
        name: `code lookup among ${stored.toLocaleString('en')} codes`,
        value: Math.round(lookupNs),
        unit: 'ns/lookup',
        baselineName:
          'raw better-sqlite3: HMAC + prepared SELECT by pin_hash, same file; ours CodeStore.findByPin; half misses',
        baseline: Math.round(rawLookupNs),
        ratio: round(lookupNs / rawLookupNs),
        target: `<= ${LOOKUP_TARGET}x raw`,
        pass: lookupNs / rawLookupNs <= LOOKUP_TARGET,
      },
      {
        name: `desired/codes apply, ${desired.toLocaleString('en')} codes`,
        value: round(apply, 1),
        unit: 'ms',
        baselineName: `raw better-sqlite3 bulk INSERT of the same rows in one transaction, fresh file (hashing the PINs: ${round(hmacMs, 1)} ms more); ours applyDesiredCodes on a fresh store; medians of ${applyRuns} runs, ratio the median of each run's own`,
        baseline: round(insert, 1),
        ratio: round(applyRatio),
        target: `<= ${APPLY_TARGET}x raw`,
        pass: applyRatio <= APPLY_TARGET,
      },
    ];
  } finally {
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  for (const row of await benchStore()) {
    process.stdout.write(
      `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baselineName} ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
