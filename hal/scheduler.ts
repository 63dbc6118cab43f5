/**
 * The timebase every timer in the lock uses: entry timeout, auto-relock, actuation
 * timeout, lockout expiry, periodic saves. Injected so the simulator and the tests
 * can move time forward instantly and deterministically.
 *
 * `now()` is monotonic milliseconds since the scheduler started; it is not wall time
 * (wall time comes from the RTC through firmware/clock).
 */
export interface Scheduler {
  now(): number;
  /** Runs `fn` once after `delayMs`. Returns a handle for `cancel`. */
  after(delayMs: number, fn: () => void): TimerHandle;
  /** Runs `fn` every `periodMs` until cancelled. */
  every(periodMs: number, fn: () => void): TimerHandle;
  cancel(handle: TimerHandle | undefined): void;
}

export interface TimerHandle {
  readonly id: number;
}

function checkDelay(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
}

/** Node's own timers; `now()` from performance.now(). */
export class RealScheduler implements Scheduler {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  after(delayMs: number, fn: () => void): TimerHandle {
    checkDelay('delayMs', delayMs);
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, delayMs);
    this.timers.set(id, timer);
    return { id };
  }

  every(periodMs: number, fn: () => void): TimerHandle {
    checkDelay('periodMs', periodMs);
    if (periodMs === 0) throw new RangeError('periodMs must be > 0');
    const id = this.nextId++;
    const timer = setInterval(fn, periodMs);
    timer.unref();
    this.timers.set(id, timer);
    return { id };
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const timer = this.timers.get(handle.id);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(handle.id);
    }
  }
}

interface VirtualTimer {
  id: number;
  due: number;
  periodMs: number;
  fn: () => void;
}

/** Lets pending promise chains and setImmediate callbacks (sim hardware answers) run. */
export async function flushAsync(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Virtual time: nothing fires until `advance` moves the clock. Timers fire in due
 * order (ties in creation order), and after each one the hardware's asynchronous
 * answers are allowed to settle, so a chain like "timeout -> drive motor -> end-stop"
 * plays out inside one `advance` call.
 */
export class VirtualScheduler implements Scheduler {
  private current = 0;
  private nextId = 1;
  private readonly timers = new Map<number, VirtualTimer>();
  private advancing: Promise<void> = Promise.resolve();

  now(): number {
    return this.current;
  }

  after(delayMs: number, fn: () => void): TimerHandle {
    checkDelay('delayMs', delayMs);
    return this.add(delayMs, 0, fn);
  }

  every(periodMs: number, fn: () => void): TimerHandle {
    checkDelay('periodMs', periodMs);
    if (periodMs === 0) throw new RangeError('periodMs must be > 0');
    return this.add(periodMs, periodMs, fn);
  }

  cancel(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  /** Whether a timer is due now (a zero delay, or time already reached). */
  hasDue(): boolean {
    for (const timer of this.timers.values()) if (timer.due <= this.current) return true;
    return false;
  }

  /** Number of timers waiting; for tests. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves virtual time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): Promise<void> {
    checkDelay('ms', ms);
    // Serialise overlapping calls (a real-time ticker and a time-travel key press).
    const run = this.advancing.then(() => this.run(this.current + ms));
    this.advancing = run.catch(() => undefined);
    return run;
  }

  private async run(target: number): Promise<void> {
    await flushAsync();
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = next.due;
      if (next.periodMs > 0) next.due += next.periodMs;
      else this.timers.delete(next.id);
      next.fn();
      await flushAsync();
    }
    this.current = target;
    await flushAsync();
  }

  private nextDue(target: number): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.due > target) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    }
    return best;
  }

  private add(delayMs: number, periodMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.current + delayMs, periodMs, fn });
    return { id };
  }
}

/**
 * Lets real time drive a virtual scheduler (the simulator's "live" mode), so time
 * travel can still jump ahead on top. Returns a stop function.
 */
export function driveInRealTime(scheduler: VirtualScheduler, tickMs = 25): () => void {
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    const elapsed = now - last;
    last = now;
    void scheduler.advance(elapsed);
  }, tickMs);
  return () => clearInterval(ticker);
}
