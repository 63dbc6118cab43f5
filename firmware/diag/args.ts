import { DiagError } from './answer.ts';

/** An optional count argument ("why 10"): a whole number from 1 to `max`. */
export function countArg(args: string[], usage: string, fallback: number, max: number): number {
  expectArgs(args, 0, 1, usage);
  const text = args[0];
  if (text === undefined) return fallback;
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new DiagError('bad_argument', `N must be a whole number from 1 to ${max} (usage: ${usage})`);
  }
  return Number(text);
}

/** Refuses too few or too many arguments, naming the usage. */
export function expectArgs(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min) throw new DiagError('missing_argument', `missing argument (usage: ${usage})`);
  if (args.length > max) {
    throw new DiagError('bad_argument', `unexpected argument "${args[max]!.slice(0, 40)}" (usage: ${usage})`);
  }
}
