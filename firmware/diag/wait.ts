import type { Scheduler } from '../../hal/scheduler.ts';

/**
 * Waits for `promise`, at most `timeoutMs` of scheduler time (virtual in tests).
 * Resolves with undefined on a timeout; rejects when `signal` aborts.
 */
export function withTimeout<T>(
  scheduler: Scheduler,
  promise: Promise<T>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const timer = scheduler.after(timeoutMs, () => done(() => resolve(undefined)));
    const onAbort = () => done(() => reject(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    function done(action: () => void): void {
      if (settled) return;
      settled = true;
      scheduler.cancel(timer);
      signal?.removeEventListener('abort', onAbort);
      action();
    }
    if (signal?.aborted) onAbort();
    promise.then(
      (value) => done(() => resolve(value)),
      (error: unknown) => done(() => reject(error)),
    );
  });
}
