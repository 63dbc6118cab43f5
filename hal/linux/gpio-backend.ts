/**
 * The small GPIO surface the Linux drivers need, in physical levels (0 = low,
 * 1 = high); the drivers apply active-low themselves. The default implementation
 * holds lines through the gpiod command-line tools (gpiod-cli.ts); tests inject a
 * fake that records every line operation.
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
  /** The level most recently asked for. */
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
  /** Called on each edge, on a later tick, with the new level. */
  onChange(listener: (value: LineValue) => void): () => void;
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
  /** Releases every line still held. */
  close(): Promise<void>;
}

export function describeLine(address: LineAddress): string {
  return `${address.chip} line ${address.line}`;
}

export function checkLineValue(name: string, value: unknown): asserts value is LineValue {
  if (value !== 0 && value !== 1) throw new RangeError(`${name} must be 0 or 1, got ${String(value)}`);
}
