/** One line of `npm run bench`: a measurement beside the baseline it is judged against. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baselineName: string;
  baseline: number;
  /** value / baseline, or baseline / value when the target asks for a speed-up. */
  ratio: number;
  /** The target in words, e.g. "<= 2x the floor". */
  target: string;
  pass: boolean;
}
