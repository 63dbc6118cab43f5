/** Where the bolt is, as the end-stops report it. */
export type BoltPosition = 'locked' | 'unlocked' | 'between';
export type DriveTarget = 'locked' | 'unlocked';

/**
 * Lock actuator contract (motor with end-stops, or a strike relay).
 * - `drive(target)` energises toward `target` and returns at once; it does not wait.
 * - When the end-stop for `target` is reached, the actuator de-energises itself and
 *   emits `onPosition(target)` on a later tick.
 * - A jammed bolt never reaches its end-stop: no `onPosition` for the target comes.
 *   The caller owns the actuation timeout and calls `stop()` when it expires.
 * - `stop()` de-energises immediately (safe state). Idempotent.
 * - `position()` reads the end-stops now.
 * - A strike relay has no end-stops: it reports the target as reached once its
 *   output is set.
 */
export interface LockActuator {
  drive(target: DriveTarget): void;
  stop(): void;
  position(): BoltPosition;
  onPosition(listener: (position: BoltPosition) => void): () => void;
  close(): Promise<void>;
}
