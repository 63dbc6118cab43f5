import type { BuzzerPattern } from '../indicator.ts';

/** Each pattern as alternating on/off durations in ms, starting with "on". */
export const BUZZER_PATTERNS: Readonly<Record<BuzzerPattern, readonly number[]>> = {
  click: [30],
  granted: [600],
  denied: [120, 80, 120, 80, 120],
  lockout: [400, 200, 400, 200, 400],
  // Ten seconds of a fast warble; the caller repeats it while the alarm stands.
  alarm: Array.from({ length: 39 }, () => 250),
};

export function isBuzzerPattern(value: unknown): value is BuzzerPattern {
  return typeof value === 'string' && Object.hasOwn(BUZZER_PATTERNS, value);
}
