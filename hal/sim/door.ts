import type { DoorSensor, DoorState } from '../door.ts';
import { Listeners, later } from '../listeners.ts';

/** Simulated reed switch. Test controls: `open()`, `close()` of the door itself. */
export class SimDoor implements DoorSensor {
  private current: DoorState = 'closed';
  private readonly listeners = new Listeners<DoorState>();

  state(): DoorState {
    return this.current;
  }

  onChange(listener: (state: DoorState) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Test control: sets the door to `state`; listeners hear about it on a later tick. */
  set(state: DoorState): void {
    if (state !== 'open' && state !== 'closed') throw new RangeError('state must be open or closed');
    if (state === this.current) return;
    this.current = state;
    later(() => this.listeners.emit(state));
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
