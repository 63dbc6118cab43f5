import { type BoardConfig, parseBoardConfig } from '../../hal/linux/board-config.ts';

/** Board files for the tests, built on the shipped examples' wiring. */
export function motorBoard(overrides: { activeLow?: boolean; deadTimeMs?: number } = {}): BoardConfig {
  return parseBoardConfig(motorBoardJson(overrides));
}

/** The motor board as its JSON file says it, to extend in a test. */
export function motorBoardJson(
  overrides: { activeLow?: boolean; deadTimeMs?: number } = {},
): Record<string, unknown> {
  return {
    gpio: { chip: 'gpiochip0' },
    relay: {
      mode: 'motor',
      unlockLine: 20,
      lockLine: 21,
      activeLow: overrides.activeLow ?? false,
      deadTimeMs: overrides.deadTimeMs ?? 50,
      lockedStop: { line: 5, activeLow: true, bias: 'pull-up' },
      unlockedStop: { line: 6, activeLow: true, bias: 'pull-up' },
      debounceMs: 5,
    },
    keypad: { device: '/dev/input/by-id/usb-keypad-event-kbd' },
    rtc: { device: 'rtc0' },
    door: { line: 17, bias: 'pull-up', debounceMs: 50 },
    indicator: { led: { red: 22, green: 23, blue: 27 }, buzzer: { line: 24 } },
  };
}

export function strikeBoard(
  overrides: { failMode?: 'fail-secure' | 'fail-safe'; pulseMs?: number; activeLow?: boolean } = {},
): BoardConfig {
  return parseBoardConfig({
    gpio: { chip: 'gpiochip0' },
    relay: {
      mode: 'strike',
      strikeLine: 26,
      failMode: overrides.failMode ?? 'fail-secure',
      activeLow: overrides.activeLow ?? false,
      ...(overrides.pulseMs === undefined ? {} : { pulseMs: overrides.pulseMs }),
    },
    keypad: { device: '/dev/input/by-id/usb-keypad-event-kbd' },
    rtc: { device: 'rtc0' },
    door: { line: 17, bias: 'pull-up', debounceMs: 50 },
    indicator: { led: { red: 22, green: 23 }, buzzer: { line: 24 } },
  });
}
