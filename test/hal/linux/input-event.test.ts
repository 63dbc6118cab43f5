import { describe, expect, it } from 'vitest';
import { EV_KEY, EV_SYN, inputEventSizeFor, parseInputEvents } from '../../../hal/linux/input-event.ts';
import { buildKeymap, DEFAULT_KEYMAP, KEY_CODES, keyCodeOf } from '../../../hal/linux/keymap.ts';
import { encodeInputEvent, keyStroke } from '../fake-kernel.ts';

describe('struct input_event', () => {
  it('is 24 bytes for 64-bit processes and 16 for 32-bit ones', () => {
    expect(inputEventSizeFor('arm64')).toBe(24);
    expect(inputEventSizeFor('x64')).toBe(24);
    expect(inputEventSizeFor('arm')).toBe(16);
    expect(inputEventSizeFor('ia32')).toBe(16);
  });

  for (const size of [24, 16] as const) {
    it(`parses type, code and value after the ${size - 8}-byte timeval`, () => {
      const bytes = Buffer.concat([
        encodeInputEvent({ type: EV_KEY, code: 79, value: 1 }, size),
        encodeInputEvent({ type: EV_SYN, code: 0, value: 0 }, size),
        encodeInputEvent({ type: EV_KEY, code: 79, value: -1 }, size),
      ]);
      const { events, rest } = parseInputEvents(bytes, size);
      expect(events).toEqual([
        { type: EV_KEY, code: 79, value: 1 },
        { type: EV_SYN, code: 0, value: 0 },
        { type: EV_KEY, code: 79, value: -1 },
      ]);
      expect(rest).toHaveLength(0);
    });
  }

  it('hands back a partial event to prepend to the next read', () => {
    const stroke = keyStroke('7', 24);
    const first = parseInputEvents(stroke.subarray(0, 30), 24);
    expect(first.events).toHaveLength(1);
    expect(first.rest).toHaveLength(6);
    const second = parseInputEvents(Buffer.concat([first.rest, stroke.subarray(30)]), 24);
    expect(second.events).toHaveLength(3);
    expect(second.rest).toHaveLength(0);
  });

  it('refuses a size other than 16 or 24', () => {
    expect(() => parseInputEvents(Buffer.alloc(32), 32 as 24)).toThrow(RangeError);
  });
});

describe('keymap', () => {
  it('uses the codes of linux/input-event-codes.h', () => {
    expect(KEY_CODES).toMatchObject({
      KEY_1: 2,
      KEY_0: 11,
      KEY_ENTER: 28,
      KEY_KPASTERISK: 55,
      KEY_KP7: 71,
      KEY_KPMINUS: 74,
      KEY_KP1: 79,
      KEY_KP0: 82,
      KEY_KPENTER: 96,
      KEY_NUMERIC_POUND: 0x20b,
    });
  });

  it('maps digits, * and # from the top row, the keypad and the phone keys by default', () => {
    const map = buildKeymap();
    expect(map.get(KEY_CODES.KEY_5!)).toBe('5');
    expect(map.get(KEY_CODES.KEY_KP5!)).toBe('5');
    expect(map.get(KEY_CODES.KEY_NUMERIC_5!)).toBe('5');
    expect(map.get(KEY_CODES.KEY_KPASTERISK!)).toBe('*');
    expect(map.get(KEY_CODES.KEY_KPMINUS!)).toBe('*');
    expect(map.get(KEY_CODES.KEY_KPENTER!)).toBe('#');
    expect(map.get(KEY_CODES.KEY_ENTER!)).toBe('#');
    expect(new Set(Object.values(DEFAULT_KEYMAP))).toEqual(
      new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#']),
    );
  });

  it('takes KEY_* names or decimal codes, and nothing else', () => {
    expect(keyCodeOf('KEY_KPDOT')).toBe(83);
    expect(keyCodeOf('83')).toBe(83);
    expect(keyCodeOf('0')).toBeUndefined();
    expect(keyCodeOf('768')).toBeUndefined();
    expect(keyCodeOf('KEY_FOO')).toBeUndefined();
    expect(() => buildKeymap({ KEY_FOO: '1' })).toThrow(RangeError);
  });
});
