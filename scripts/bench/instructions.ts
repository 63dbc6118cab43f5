import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './boot.ts';
import { type DecisionKind, decisionRig, KINDS } from './decision.ts';
import { benchDir, round } from './stats.ts';
import type { BenchRow } from './types.ts';

/**
 * Instructions per decision, counted by valgrind's callgrind: a figure that does not
 * move with the machine's load, so a regression shows as a number. Each measurement is
 * two runs of the same child (dist/ JavaScript; node --single-threaded --predictable
 * with fixed seeds, so no compiler or GC thread's work lands in the count): the same
 * set-up and warm-up, then `n` and `2n` entries; the difference divided by `n` is one
 * entry's cost, start-up cancelled out. What still differs between two runs of one
 * child (about 20 million instructions here: random keys and ids, GC timing) is
 * divided by `n` too, so `n` is large: 500 (about 2% of a decision), 200 with --quick.
 * The floor is the decision bench's: one HMAC-SHA256 of the entry and one INSERT
 * committed with WAL, synchronous=FULL.
 */

const WARM = 20;
/**
 * The floor is a few ten thousand instructions, native code only: it runs this many
 * times more entries, so the run-to-run difference divides down to a few percent.
 */
const FLOOR_FACTOR = 25;
/**
 * Regression budgets: the counts measured on 2026-11-29 (node 20, x86-64, two runs at
 * n = 200, which differed by up to 10%) plus 20%. An entry is the whole timed path and what follows it untimed: the decision's
 * commit, the relay, and the relock's two audit rows. It is not comparable with the
 * floor's single INSERT (the ratio is shown for scale; a fsync costs no instructions).
 */
const BUDGET: Record<DecisionKind, number> = {
  ongoing: 2_000_000,
  one_time: 2_000_000,
  offline: 2_450_000,
};
type Target = DecisionKind | 'floor';
const TARGETS: readonly Target[] = ['floor', ...KINDS];

export interface InstructionOptions {
  /** Entries in the shorter run (default 500; the longer has twice as many). */
  entries?: number;
}

/** The child: set up (`codes` one-time codes, the same in both runs), warm up, then `count` entries of `target`. */
async function child(target: Target, count: number, codes: number): Promise<void> {
  const { dir, remove } = benchDir('instructions');
  const rig = await decisionRig(dir, codes);
  try {
    for (let i = 0; i < WARM + count; i++) {
      if (target === 'floor') rig.floor(i);
      else await rig.decide(target, i);
    }
  } finally {
    await rig.close();
    remove();
  }
}

/** Instructions (callgrind's Ir) of one child run. */
function countRun(
  script: string,
  target: Target,
  count: number,
  codes: number,
  outFile: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${outFile}`,
        process.execPath,
        '--single-threaded',
        '--predictable',
        '--random-seed=1',
        '--hash-seed=1',
        script,
        '--child',
        target,
        String(count),
        String(codes),
      ],
      { timeout: 600_000, maxBuffer: 16 * 2 ** 20 },
      (error, _stdout, stderr) => {
        if (error) {
          const lines = stderr.trim().split('\n');
          return reject(new Error(`callgrind run failed: ${lines[lines.length - 1] ?? error.message}`));
        }
        const totals = /^totals:\s+(\d+)/m.exec(readFileSync(outFile, 'utf8'));
        if (!totals) return reject(new Error('callgrind wrote no totals'));
        resolve(Number(totals[1]));
      },
    );
  });
}

export async function benchInstructions(options: InstructionOptions = {}): Promise<BenchRow[]> {
  const count = options.entries ?? 500;
  const script = join(packageRoot(), 'dist', 'scripts', 'bench', 'instructions.js');
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  const probe = await new Promise<boolean>((resolve) =>
    execFile('valgrind', ['--version'], (error) => resolve(!error)),
  );
  if (!probe) throw new Error('valgrind is not installed (apt-get install valgrind)');
  const { dir, remove } = benchDir('instructions-out');
  try {
    const perEntry: Partial<Record<Target, number>> = {};
    for (const target of TARGETS) {
      const codes = WARM + 2 * count;
      const n = target === 'floor' ? count * FLOOR_FACTOR : count;
      const short = await countRun(script, target, n, codes, join(dir, `${target}-1.out`));
      const long = await countRun(script, target, 2 * n, codes, join(dir, `${target}-2.out`));
      perEntry[target] = (long - short) / n;
    }
    const floor = perEntry.floor!;
    return KINDS.map((kind) => {
      const value = perEntry[kind]!;
      return {
        name: `instructions per entry, ${kind.replace('_', '-')} code (decision, relay, relock)`,
        value: Math.round(value),
        unit: 'instr',
        baselineName:
          'floor: one HMAC-SHA256 + one INSERT commit (WAL, synchronous=FULL), bare; both callgrind Ir, (2n - n entries) / n; target: the recorded count + 20%',
        baseline: Math.round(floor),
        ratio: round(value / floor),
        target: `<= ${BUDGET[kind].toLocaleString('en')} instr`,
        pass: value <= BUDGET[kind],
      };
    });
  } finally {
    remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [flag, target, count, codes] = process.argv.slice(2);
  if (flag === '--child' && TARGETS.includes(target as Target) && Number(count) > 0) {
    await child(target as Target, Number(count), Number(codes));
  } else {
    for (const row of await benchInstructions()) {
      process.stdout.write(
        `${row.pass ? 'PASS' : 'FAIL'}  ${row.name}: ${row.value} ${row.unit} vs ${row.baseline} (ratio ${row.ratio}; target ${row.target})\n`,
      );
    }
  }
}
