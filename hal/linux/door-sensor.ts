import type { DoorSensor, DoorState } from '../door.ts';
import type { DebouncedInput } from './debounced-input.ts';
import { GpioSwitch } from './gpio-switch.ts';

const doorState = (open: boolean): DoorState => (open ? 'open' : 'closed');

/** A reed switch on a GPIO input; "active" in the board file means the door is open. */
export class GpioDoorSensor implements DoorSensor {
  private readonly reed: GpioSwitch;

  constructor(input: DebouncedInput) {
    this.reed = new GpioSwitch(input);
  }

  state(): DoorState {
    return doorState(this.reed.active());
  }

  onChange(listener: (state: DoorState) => void): () => void {
    return this.reed.onChange((open) => listener(doorState(open)));
  }

  close(): Promise<void> {
    return this.reed.close();
  }
}
