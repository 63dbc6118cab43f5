/**
 * A Wiegand reader or keypad: the common access-control interface, two wires (D0, D1)
 * idle high, each bit a short low pulse on D0 (a 0) or D1 (a 1), a frame ended by
 * silence. 26-bit (H10301) and 34-bit frames are accepted; every other length, and
 * any frame whose parity bits do not check out, is refused and reported, never read.
 *
 * Contract:
 * - `onReading` fires once per accepted frame, on a later tick, in arrival order.
 * - `onRefused` fires once per refused frame, with its length and why; its bits are
 *   never reported (they may be most of a PIN).
 * - After `close()` nothing more is delivered.
 */
export interface WiegandReader {
  onReading(listener: (reading: WiegandReading) => void): () => void;
  onRefused(listener: (refusal: WiegandRefusal) => void): () => void;
  close(): Promise<void>;
}

export interface WiegandReading {
  /** 26 or 34. */
  bits: WiegandLength;
  /**
   * The frame's data bits (all but the two parity bits: 24 or 32) as a decimal number,
   * without leading zeros: what a Wiegand keypad sends for a PIN typed and confirmed
   * with #, or a card's number (facility code and card number together).
   */
  digits: string;
}

export interface WiegandRefusal {
  bits: number;
  reason: 'length' | 'parity';
}

export const WIEGAND_LENGTHS = [26, 34] as const;
export type WiegandLength = (typeof WIEGAND_LENGTHS)[number];
export type Bit = 0 | 1;

/** Checks a whole frame: length, then the leading even and trailing odd parity, each over its half. */
export function decodeWiegand(
  bits: readonly Bit[],
): ({ ok: true } & WiegandReading) | ({ ok: false } & WiegandRefusal) {
  const length = bits.length;
  if (length !== 26 && length !== 34) return { ok: false, bits: length, reason: 'length' };
  const half = length / 2;
  const ones = (from: number, to: number) => bits.slice(from, to).reduce<number>((sum, bit) => sum + bit, 0);
  // Even parity: bit 0 makes the first half's ones even; odd: the last bit makes the second half's ones odd.
  if (ones(0, half) % 2 !== 0 || ones(half, length) % 2 !== 1)
    return { ok: false, bits: length, reason: 'parity' };
  let value = 0n;
  for (const bit of bits.slice(1, length - 1)) value = (value << 1n) | BigInt(bit);
  return { ok: true, bits: length, digits: value.toString() };
}

/** The frame a reader sends for `value` (0..2^24-1 for 26 bits, 0..2^32-1 for 34), parity included. */
export function encodeWiegand(value: number | bigint, length: WiegandLength): Bit[] {
  const data = BigInt(value);
  const width = length - 2;
  if (data < 0n || data >= 1n << BigInt(width))
    throw new RangeError(`value must fit in ${width} bits for a ${length}-bit frame`);
  const body: Bit[] = [];
  for (let i = width - 1; i >= 0; i--) body.push(Number((data >> BigInt(i)) & 1n) as Bit);
  const half = length / 2;
  const firstOnes = body.slice(0, half - 1).reduce<number>((sum, bit) => sum + bit, 0);
  const lastOnes = body.slice(half - 1).reduce<number>((sum, bit) => sum + bit, 0);
  return [(firstOnes % 2) as Bit, ...body, (lastOnes % 2 === 0 ? 1 : 0) as Bit];
}
