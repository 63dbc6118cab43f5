/**
 * An on/off input wired to the lock besides the door: a request-to-exit button, a
 * tamper switch, a power-fail or low-battery signal from the supply.
 * - `active()` reads it now (debounced): pressed, tampered, power failing.
 * - `onChange` fires on a later tick after each debounced change, never twice for the
 *   same state.
 */
export interface SwitchInput {
  active(): boolean;
  onChange(listener: (active: boolean) => void): () => void;
  close(): Promise<void>;
}

/** The optional inputs of a board; a board without one simply has none. */
export interface HalInputs {
  /** Request-to-exit button on the secure side: opens the door. */
  exitButton?: SwitchInput;
  /** Tamper switch in the keypad or controller housing. */
  tamper?: SwitchInput;
  /** Power-fail or low-battery signal from the supply (active = on battery / low). */
  powerFail?: SwitchInput;
}

export const HAL_INPUT_NAMES = ['exitButton', 'tamper', 'powerFail'] as const;
export type HalInputName = (typeof HAL_INPUT_NAMES)[number];
