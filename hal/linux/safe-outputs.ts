import { type BoardConfig, outputUses } from './board-config.ts';
import { GpioError } from './errors.ts';
import type { GpioBackend } from './gpio-backend.ts';
import { describeLine } from './gpio-backend.ts';
import { errorMessage } from './log.ts';
import { inactiveLevel, OFF_ATTEMPTS, OFF_RETRY_MS, type WaitFn } from './switched-output.ts';

export interface SafeOutputResult {
  /** Board field of the output, e.g. `board.relay.strikeLine`. */
  field: string;
  line: string;
  /** Set when every attempt failed. */
  error?: string;
}

/**
 * Drives every output of a (chip-resolved) board to its off level and lets it go again:
 * the one rule behind `lockfw outputs-off` (the unit's ExecStopPost) and the first
 * step of `lockfw run --hal linux`. A Raspberry Pi kernel without `strict_gpiod` keeps
 * a released line at its last level (now off); with it, the line falls back to its
 * pull, which the wiring rule makes off too. A busy line (a holder still dying) is
 * tried OFF_ATTEMPTS times. Every output is tried; the result names each.
 */
export async function driveOutputsSafe(
  gpio: GpioBackend,
  board: BoardConfig,
  wait: WaitFn,
): Promise<SafeOutputResult[]> {
  const results: SafeOutputResult[] = [];
  for (const use of outputUses(board)) {
    const address = { chip: use.chip, line: use.line };
    let error: unknown;
    for (let attempt = 1; attempt <= OFF_ATTEMPTS; attempt++) {
      try {
        const output = await gpio.requestOutput({ ...address, initial: inactiveLevel(use.activeLow) });
        await output.release();
        error = undefined;
        break;
      } catch (caught) {
        error = caught;
        if (attempt < OFF_ATTEMPTS) await wait(OFF_RETRY_MS);
      }
    }
    results.push({
      field: use.field,
      line: describeLine(address),
      ...(error === undefined ? {} : { error: errorMessage(error) }),
    });
  }
  return results;
}

/** One error naming every output that could not be driven off, or nothing. */
export function assertAllSafe(results: readonly SafeOutputResult[]): void {
  const failed = results.filter((result) => result.error !== undefined);
  if (failed.length === 0) return;
  throw new GpioError(
    `outputs not driven off: ${failed.map((result) => `${result.field} (${result.line}): ${result.error}`).join('; ')}`,
  );
}
