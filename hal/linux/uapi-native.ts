import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { errorMessage } from './log.ts';

/** One edge as the kernel queued it on a line request (struct gpio_v2_line_event). */
export interface NativeEdgeEvent {
  offset: number;
  /** Rising: the line went from low to high (physical levels: no active-low flag is used). */
  rising: boolean;
  /** CLOCK_MONOTONIC when the kernel saw the edge. */
  timestampNs: bigint;
  seqno: number;
  lineSeqno: number;
}

/** Bias as the addon numbers it. */
export const NATIVE_BIAS = { 'as-is': 0, disable: 1, 'pull-up': 2, 'pull-down': 3 } as const;

export interface NativeLineConfig {
  output: boolean;
  /** Bitmap by index into the offsets: the levels outputs take when requested. */
  values?: number;
  bias?: number;
  /** Edge detection; "both" reads the level in the kernel's IRQ thread to tell the edge. */
  edges?: 'none' | 'both' | 'rising' | 'falling';
  debounceUs?: number;
  /** Kernel event queue length (default 16 per line). */
  bufferSize?: number;
}

/** hal/linux/native/gpio_uapi.c: the GPIO v2 uAPI and EVIOCGRAB, synchronous ioctls. */
export interface GpioAddon {
  chipInfo(path: string): { name: string; label: string; lines: number };
  requestLines(chipPath: string, consumer: string, offsets: number[], config: NativeLineConfig): number;
  /** Returns CLOCK_MONOTONIC just after the kernel drove the lines. */
  setValues(fd: number, mask: number, bits: number): bigint;
  getValues(fd: number, mask: number): number;
  readEvents(fd: number): NativeEdgeEvent[];
  closeFd(fd: number): void;
  grab(fd: number, on: boolean): void;
  monotonicNs(): bigint;
  watch(fd: number, callback: (error: string | null) => void): object;
  unwatch(handle: object): void;
}

const ADDON = 'tumbler_gpio.node';

/**
 * Where the addon may be, first found wins: `TUMBLER_GPIO_ADDON` (a prebuilt file),
 * the local build (`npm run build:native`), then a shipped prebuild for this
 * architecture. Paths are relative to this module, from hal/linux or dist/hal/linux.
 */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env, arch: string = process.arch): string[] {
  const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
  const roots = [here('./native/'), here('../../../hal/linux/native/')];
  return [
    ...(env.TUMBLER_GPIO_ADDON ? [env.TUMBLER_GPIO_ADDON] : []),
    ...roots.flatMap((root) => [`${root}build/Release/${ADDON}`, `${root}prebuilds/linux-${arch}/${ADDON}`]),
  ];
}

let cached: { addon?: GpioAddon; problem?: string } | undefined;

/** The addon, or why it is not there (one line naming what was looked for). */
export function loadGpioAddon(): { addon?: GpioAddon; problem?: string } {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const candidates = addonCandidates();
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    cached = {
      problem: `the native GPIO addon is not built (looked for ${candidates.join(', ')}; run npm run build:native)`,
    };
    return cached;
  }
  try {
    cached = { addon: require(found) as GpioAddon };
  } catch (error) {
    cached = { problem: `the native GPIO addon ${found} does not load: ${errorMessage(error)}` };
  }
  return cached;
}
