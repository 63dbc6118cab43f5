/** `struct input_event` from linux/input.h, as read from /dev/input/event*. */
export interface InputEvent {
  type: number;
  code: number;
  value: number;
}

export const EV_SYN = 0;
export const EV_KEY = 1;
/** EV_KEY values: release, press, autorepeat. */
export const KEY_RELEASE = 0;
export const KEY_PRESS = 1;
export const KEY_REPEAT = 2;

/**
 * Size of one event for this process: the timeval is two `long`s, so 16 bytes for
 * 64-bit processes (24 in all) and 8 for 32-bit ones (16 in all). The kernel answers
 * a 32-bit process on a 64-bit kernel in the 32-bit layout, so the process's own
 * architecture decides, not the kernel's.
 */
export type InputEventSize = 16 | 24;

export function inputEventSizeFor(arch: string = process.arch): InputEventSize {
  return arch === 'arm' || arch === 'ia32' || arch === 'mips' || arch === 'mipsel' || arch === 'ppc'
    ? 16
    : 24;
}

/**
 * Splits `bytes` into whole events (little-endian, as on every Pi-class board). A
 * partial event at the end is returned in `rest` to prepend to the next read.
 */
export function parseInputEvents(
  bytes: Buffer,
  size: InputEventSize,
): { events: InputEvent[]; rest: Buffer } {
  if (size !== 16 && size !== 24) throw new RangeError(`size must be 16 or 24, got ${size}`);
  const events: InputEvent[] = [];
  const whole = bytes.length - (bytes.length % size);
  const headerBytes = size - 8;
  for (let offset = 0; offset < whole; offset += size) {
    events.push({
      type: bytes.readUInt16LE(offset + headerBytes),
      code: bytes.readUInt16LE(offset + headerBytes + 2),
      value: bytes.readInt32LE(offset + headerBytes + 4),
    });
  }
  return { events, rest: Buffer.from(bytes.subarray(whole)) };
}
