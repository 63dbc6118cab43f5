import { Listeners } from '../listeners.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import type { GpioInput } from './gpio-backend.ts';

/**
 * An input seen as active/inactive, with active-low applied and contact bounce
 * filtered: a change counts once the line has held its new level for `debounceMs`.
 * `onRaw` hears every edge at once (for cutting a motor without waiting).
 */
export class DebouncedInput {
  private stable: boolean;
  private settle: TimerHandle | undefined;
  private readonly stableListeners = new Listeners<boolean>();
  private readonly rawListeners = new Listeners<boolean>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly input: GpioInput,
    private readonly activeLow: boolean,
    private readonly debounceMs: number,
    private readonly scheduler: Scheduler,
  ) {
    if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new RangeError('debounceMs must be >= 0');
    this.stable = this.rawActive();
    this.unsubscribe = input.onChange(() => this.edge());
  }

  /** The level the line shows now, bounce and all. */
  rawActive(): boolean {
    return (this.input.value() === 0) === this.activeLow;
  }

  /** The debounced state. */
  active(): boolean {
    return this.stable;
  }

  onStable(listener: (active: boolean) => void): () => void {
    return this.stableListeners.add(listener);
  }

  onRaw(listener: (active: boolean) => void): () => void {
    return this.rawListeners.add(listener);
  }

  async release(): Promise<void> {
    this.scheduler.cancel(this.settle);
    this.unsubscribe();
    this.stableListeners.clear();
    this.rawListeners.clear();
    await this.input.release();
  }

  private edge(): void {
    this.rawListeners.emit(this.rawActive());
    this.scheduler.cancel(this.settle);
    this.settle = this.scheduler.after(this.debounceMs, () => {
      this.settle = undefined;
      const now = this.rawActive();
      if (now === this.stable) return;
      this.stable = now;
      this.stableListeners.emit(now);
    });
  }
}
