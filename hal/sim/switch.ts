import { Listeners, later } from '../listeners.ts';
import type { SwitchInput } from '../switch-input.ts';

/** A simulated on/off input (exit button, tamper, power fail). Test control: `set(active)`. */
export class SimSwitch implements SwitchInput {
  private current = false;
  private closed = false;
  private readonly listeners = new Listeners<boolean>();

  active(): boolean {
    return this.current;
  }

  onChange(listener: (active: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Test control: listeners hear about a change on a later tick. */
  set(active: boolean): void {
    if (typeof active !== 'boolean') throw new TypeError('active must be true or false');
    if (active === this.current || this.closed) return;
    this.current = active;
    later(() => {
      if (!this.closed) this.listeners.emit(active);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
