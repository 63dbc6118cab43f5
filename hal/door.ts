export type DoorState = 'open' | 'closed';

/**
 * Door sensor contract (reed switch).
 * - `state()` reads the sensor now (debounced).
 * - `onChange` fires on a later tick after each debounced change, never twice for
 *   the same state.
 */
export interface DoorSensor {
  state(): DoorState;
  onChange(listener: (state: DoorState) => void): () => void;
  close(): Promise<void>;
}
