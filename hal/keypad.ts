/** The twelve keys of a lock keypad. */
export const KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'] as const;
export type Key = (typeof KEYS)[number];

export function isKey(value: unknown): value is Key {
  return typeof value === 'string' && (KEYS as readonly string[]).includes(value);
}

/**
 * Keypad contract.
 * - Emits one `Key` per physical press, in press order, never for releases.
 * - Delivery is asynchronous: a key reaches listeners on a later tick than the press.
 * - After `close()` no more keys are delivered.
 */
export interface Keypad {
  onKey(listener: (key: Key) => void): () => void;
  close(): Promise<void>;
}
