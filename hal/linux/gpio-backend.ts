/**
 * The small GPIO surface the Linux drivers need, in physical levels (0 = low,
 * 1 = high); the drivers apply active-low themselves. The default implementation
 * talks to the kernel's GPIO v2 character-device uAPI in process (uapi-backend.ts,
 * through the native addon); the gpiod command-line tools (gpiod-cli.ts) are the
 * fallback a board file chooses explicitly; tests inject a fake that records every
 * line operation.
 */
export type LineValue = 0 | 1;
export type LineBias = 'as-is' | 'disable' | 'pull-up' | 'pull-down';

export interface LineAddress {
  /** Chip name as in /dev, e.g. `gpiochip0`. */
  chip: string;
  /** Line offset within the chip. */
  line: number;
}

export interface OutputRequest extends LineAddress {
  /** The level the line takes the moment it is requested (the safe level). */
  initial: LineValue;
}

export interface InputRequest extends LineAddress {
  bias: LineBias;
}

/** An output line held by this process until `release()`; it never falls back while held. */
export interface GpioOutput {
  readonly address: LineAddress;
  /**
   * The level most recently asked for (the uAPI backend: most recently driven; a write
   * that failed leaves it as it was).
   */
  value(): LineValue;
  /** Drives the line; resolves once the line holds `value`. Calls take effect in order. */
  set(value: LineValue): Promise<void>;
  release(): Promise<void>;
}

/** An input line with edge events. */
export interface GpioInput {
  readonly address: LineAddress;
  /** The level last seen (initial read, then every edge). */
  value(): LineValue;
  /**
   * Called on each edge, on a later tick, with the new level and, where the backend
   * has it (the uAPI), the kernel's CLOCK_MONOTONIC timestamp of the edge.
   */
  onChange(listener: (value: LineValue, timestampNs?: bigint) => void): () => void;
  release(): Promise<void>;
}

/** Several input lines of one chip whose edges arrive in one queue, in the order the kernel saw them. */
export interface EdgeLinesRequest {
  chip: string;
  lines: number[];
  bias: LineBias;
  /**
   * Which edges to queue. With both, the kernel reads the line in its IRQ thread to
   * tell rising from falling, so a pulse shorter than that latency (a Wiegand bit,
   * 50-100 µs) can read as the wrong edge; a pulse reader asks for one edge.
   */
  edges: 'both' | 'falling';
}

export interface LineEdge {
  line: number;
  rising: boolean;
  /** CLOCK_MONOTONIC when the kernel saw the edge. */
  timestampNs: bigint;
}

export interface GpioEdgeLines {
  /** Called with every edge, oldest first, on a later tick than the edge. */
  onEdge(listener: (edge: LineEdge) => void): () => void;
  /** Delivers, synchronously, every edge the kernel has queued by now (before a timer decides on silence). */
  drain(): void;
  release(): Promise<void>;
}

/** One GPIO chip as `gpiodetect` lists it: `gpiochip0 [pinctrl-bcm2711] (58 lines)`. */
export interface ChipInfo {
  /** Name in /dev, e.g. `gpiochip0`. */
  name: string;
  /** The driver's label, e.g. `pinctrl-bcm2711` (Pi 4) or `pinctrl-rp1` (Pi 5). */
  label: string;
  lines: number;
}

export interface GpioBackend {
  /** Every GPIO chip the kernel has, with its label. */
  listChips(): Promise<ChipInfo[]>;
  requestOutput(request: OutputRequest): Promise<GpioOutput>;
  requestInput(request: InputRequest): Promise<GpioInput>;
  /**
   * Edge events of several lines in one ordered queue with kernel timestamps (a Wiegand
   * reader's D0/D1). Only the uAPI backend has it: tool processes cannot order edges
   * across lines.
   */
  requestEdgeLines?(request: EdgeLinesRequest): Promise<GpioEdgeLines>;
  /** Releases every line still held. */
  close(): Promise<void>;
}

export function describeLine(address: LineAddress): string {
  return `${address.chip} line ${address.line}`;
}

export function checkLineValue(name: string, value: unknown): asserts value is LineValue {
  if (value !== 0 && value !== 1) throw new RangeError(`${name} must be 0 or 1, got ${String(value)}`);
}

/** A line address as a request takes it: a /dev chip name (labels are resolved before) and an offset. */
export function checkAddress(address: LineAddress): void {
  if (typeof address.chip !== 'string' || !/^gpiochip\d+$/.test(address.chip)) {
    throw new TypeError(`request.chip must be a chip name like gpiochip0, got ${String(address.chip)}`);
  }
  if (!Number.isInteger(address.line) || address.line < 0) {
    throw new RangeError(`request.line must be an integer >= 0, got ${address.line}`);
  }
}
