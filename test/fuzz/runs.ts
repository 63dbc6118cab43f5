/**
 * Fuzz campaigns run a bounded number of cases in `npm test` and many more with
 * `npm run fuzz` (FUZZ_RUNS). Seeds are fixed (FUZZ_SEED to change them), so a
 * failure reproduces; fast-check prints the counterexample and its path.
 */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261122);
export const fuzzOptions = (runs = FUZZ_RUNS) => ({ numRuns: runs, seed: FUZZ_SEED, endOnFailure: true });
