import { Listeners, later } from '../listeners.ts';
import type { SwitchInput } from '../switch-input.ts';
import type { DebouncedInput } from './debounced-input.ts';

/** An exit button, tamper switch or power-fail signal on a GPIO input; `activeLow` as wired. */
export class GpioSwitch implements SwitchInput {
  private readonly listeners = new Listeners<boolean>();
  private readonly unsubscribe: () => void;
  private reported: boolean;
  private closed = false;

  constructor(private readonly input: DebouncedInput) {
    this.reported = input.active();
    this.unsubscribe = input.onStable(() => this.changed());
  }

  active(): boolean {
    return this.input.active();
  }

  onChange(listener: (active: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.listeners.clear();
    await this.input.release();
  }

  private changed(): void {
    const active = this.input.active();
    if (active === this.reported) return;
    this.reported = active;
    later(() => {
      if (!this.closed) this.listeners.emit(active);
    });
  }
}
