import type { DoorSensor, DoorState } from '../door.ts';
import { Listeners, later } from '../listeners.ts';
import type { DebouncedInput } from './debounced-input.ts';

/** A reed switch on a GPIO input; "active" in the board file means the door is open. */
export class GpioDoorSensor implements DoorSensor {
  private readonly listeners = new Listeners<DoorState>();
  private readonly unsubscribe: () => void;
  private reported: DoorState;
  private closed = false;

  constructor(private readonly input: DebouncedInput) {
    this.reported = this.state();
    this.unsubscribe = input.onStable(() => this.changed());
  }

  state(): DoorState {
    return this.input.active() ? 'open' : 'closed';
  }

  onChange(listener: (state: DoorState) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.listeners.clear();
    await this.input.release();
  }

  private changed(): void {
    const state = this.state();
    // Debouncing already drops repeats; this guards the contract if it ever would not.
    if (state === this.reported) return;
    this.reported = state;
    later(() => {
      if (!this.closed) this.listeners.emit(state);
    });
  }
}
