import type { GpiodMajor } from './gpiod-args.ts';
import type { DelayFn, RunFn, SpawnFn } from './held-process.ts';
import type { HalLog } from './log.ts';

/** The gpiod tools found at start, and how to run them. */
export interface GpiodTools {
  major: GpiodMajor;
  gpioset: string;
  gpioget: string;
  gpiomon: string;
  gpiodetect: string;
  /** Consumer label for the v2 tools. */
  consumer: string;
  settleMs: number;
  /** Wait before re-holding a line whose tool process died. */
  restartMs: number;
  spawn: SpawnFn;
  run: RunFn;
  delay: DelayFn;
  log: HalLog;
}
