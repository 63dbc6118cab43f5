import { isKey, type Key, type Keypad } from '../keypad.ts';
import { Listeners, later } from '../listeners.ts';

/** Simulated keypad. Test control: `press("1234#")`. */
export class SimKeypad implements Keypad {
  private readonly listeners = new Listeners<Key>();
  private closed = false;

  onKey(listener: (key: Key) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Presses each key in order; each reaches listeners on a later tick. */
  press(keys: string): void {
    if (typeof keys !== 'string') throw new TypeError('keys must be a string');
    for (const key of keys) {
      if (!isKey(key)) throw new RangeError(`keys may contain only 0-9, * and #; got ${JSON.stringify(key)}`);
    }
    for (const key of keys) {
      later(() => {
        if (!this.closed) this.listeners.emit(key as Key);
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
