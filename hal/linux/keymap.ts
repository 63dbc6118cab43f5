import type { Key } from '../keypad.ts';

/** Key codes from linux/input-event-codes.h that keypads send. */
export const KEY_CODES: Readonly<Record<string, number>> = {
  KEY_ESC: 1,
  KEY_1: 2,
  KEY_2: 3,
  KEY_3: 4,
  KEY_4: 5,
  KEY_5: 6,
  KEY_6: 7,
  KEY_7: 8,
  KEY_8: 9,
  KEY_9: 10,
  KEY_0: 11,
  KEY_MINUS: 12,
  KEY_BACKSPACE: 14,
  KEY_ENTER: 28,
  KEY_KPASTERISK: 55,
  KEY_NUMLOCK: 69,
  KEY_KP7: 71,
  KEY_KP8: 72,
  KEY_KP9: 73,
  KEY_KPMINUS: 74,
  KEY_KP4: 75,
  KEY_KP5: 76,
  KEY_KP6: 77,
  KEY_KPPLUS: 78,
  KEY_KP1: 79,
  KEY_KP2: 80,
  KEY_KP3: 81,
  KEY_KP0: 82,
  KEY_KPDOT: 83,
  KEY_KPENTER: 96,
  KEY_KPSLASH: 98,
  KEY_DELETE: 111,
  KEY_KPEQUAL: 117,
  KEY_KPCOMMA: 121,
  KEY_NUMERIC_0: 0x200,
  KEY_NUMERIC_1: 0x201,
  KEY_NUMERIC_2: 0x202,
  KEY_NUMERIC_3: 0x203,
  KEY_NUMERIC_4: 0x204,
  KEY_NUMERIC_5: 0x205,
  KEY_NUMERIC_6: 0x206,
  KEY_NUMERIC_7: 0x207,
  KEY_NUMERIC_8: 0x208,
  KEY_NUMERIC_9: 0x209,
  KEY_NUMERIC_STAR: 0x20a,
  KEY_NUMERIC_POUND: 0x20b,
};

/** KEY_MAX in linux/input-event-codes.h. */
export const KEY_CODE_MAX = 0x2ff;

/**
 * The map used when the board file gives none: the top-row digits, the numeric keypad
 * and the phone-style KEY_NUMERIC_* codes. `*` also answers to keypad minus and
 * backspace (the "clear" key of many USB keypads); `#` to both Enter keys.
 */
export const DEFAULT_KEYMAP: Readonly<Record<string, Key>> = {
  KEY_0: '0',
  KEY_1: '1',
  KEY_2: '2',
  KEY_3: '3',
  KEY_4: '4',
  KEY_5: '5',
  KEY_6: '6',
  KEY_7: '7',
  KEY_8: '8',
  KEY_9: '9',
  KEY_KP0: '0',
  KEY_KP1: '1',
  KEY_KP2: '2',
  KEY_KP3: '3',
  KEY_KP4: '4',
  KEY_KP5: '5',
  KEY_KP6: '6',
  KEY_KP7: '7',
  KEY_KP8: '8',
  KEY_KP9: '9',
  KEY_NUMERIC_0: '0',
  KEY_NUMERIC_1: '1',
  KEY_NUMERIC_2: '2',
  KEY_NUMERIC_3: '3',
  KEY_NUMERIC_4: '4',
  KEY_NUMERIC_5: '5',
  KEY_NUMERIC_6: '6',
  KEY_NUMERIC_7: '7',
  KEY_NUMERIC_8: '8',
  KEY_NUMERIC_9: '9',
  KEY_KPASTERISK: '*',
  KEY_NUMERIC_STAR: '*',
  KEY_KPMINUS: '*',
  KEY_BACKSPACE: '*',
  KEY_KPENTER: '#',
  KEY_ENTER: '#',
  KEY_NUMERIC_POUND: '#',
};

/** A keymap entry's name: a `KEY_*` name from the table, or a decimal code 1..KEY_MAX. */
export function keyCodeOf(name: string): number | undefined {
  const known = KEY_CODES[name];
  if (known !== undefined) return known;
  if (!/^[0-9]{1,4}$/.test(name)) return undefined;
  const code = Number(name);
  return code >= 1 && code <= KEY_CODE_MAX ? code : undefined;
}

/** Turns a name-keyed keymap (as in the board file) into the code lookup the driver uses. */
export function buildKeymap(names: Readonly<Record<string, Key>> = DEFAULT_KEYMAP): Map<number, Key> {
  const map = new Map<number, Key>();
  for (const [name, key] of Object.entries(names)) {
    const code = keyCodeOf(name);
    if (code === undefined)
      throw new RangeError(`keymap name ${JSON.stringify(name)} is not a KEY_* name or code`);
    map.set(code, key);
  }
  return map;
}
