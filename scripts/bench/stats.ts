/** Small helpers shared by the bench modules: percentiles, a fixed PRNG, temp dirs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../support/random.ts';

/** The q-quantile (0..1) of `values` by nearest rank; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: readonly number[]) => percentile(values, 0.5);

/** `length` digits from `next`, as a string (leading zeros kept). */
export const randomDigits = (next: () => number, length: number) =>
  Array.from({ length }, () => String(Math.floor(next() * 10))).join('');

/** Rounds to `digits` significant decimals, keeping small values readable. */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * A temporary directory in os.tmpdir() and its cleanup. The bench measures real commits:
 * where /tmp is a tmpfs, fsync costs nothing and the floors shrink with the rest.
 */
export function benchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tumbler-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Lets pending I/O callbacks and timers run (between measured blocks). */
export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A fixed pseudo-random sequence: the same workload on every run. */
export const prng = seededRandom;
