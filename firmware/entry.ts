import type { Key } from '../hal/keypad.ts';
import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';

export interface EntryOptions {
  /** Inter-key timeout: a half-typed entry is dropped after this much silence. */
  timeoutMs: number;
  /** Longest entry; one more digit submits the entry as it stands, to be refused as malformed. */
  maxLength: number;
}

export type EntryEvent =
  | { type: 'progress'; length: number }
  | { type: 'cleared'; why: 'star' | 'timeout' }
  | { type: 'submit'; digits: string };

/**
 * Collects keypad digits into an entry: `*` clears, `#` submits, silence times out.
 * Emits only lengths while typing, so nothing downstream of the UI ever sees a
 * half-typed PIN.
 */
export class EntryCollector {
  private digits = '';
  private timer: TimerHandle | undefined;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly options: EntryOptions,
    private readonly emit: (event: EntryEvent) => void,
  ) {
    if (!(options.timeoutMs > 0)) throw new RangeError('options.timeoutMs must be > 0');
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new RangeError('options.maxLength must be an integer >= 1');
    }
  }

  get length(): number {
    return this.digits.length;
  }

  press(key: Key): void {
    this.scheduler.cancel(this.timer);
    this.timer = undefined;
    if (key === '*') {
      this.digits = '';
      this.emit({ type: 'cleared', why: 'star' });
      return;
    }
    if (key === '#') {
      if (this.digits.length === 0) return;
      this.submit();
      return;
    }
    this.digits += key;
    if (this.digits.length > this.options.maxLength) {
      this.submit();
      return;
    }
    this.emit({ type: 'progress', length: this.digits.length });
    this.timer = this.scheduler.after(this.options.timeoutMs, () => {
      this.timer = undefined;
      this.digits = '';
      this.emit({ type: 'cleared', why: 'timeout' });
    });
  }

  reset(): void {
    this.scheduler.cancel(this.timer);
    this.timer = undefined;
    this.digits = '';
  }

  private submit(): void {
    const digits = this.digits;
    this.digits = '';
    this.emit({ type: 'submit', digits });
  }
}
