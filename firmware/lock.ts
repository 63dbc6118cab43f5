import type { DoorSensor, DoorState } from '../hal/door.ts';
import { Listeners } from '../hal/listeners.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../hal/relay.ts';
import type { Scheduler, TimerHandle } from '../hal/scheduler.ts';

export const LOCK_STATES = ['locked', 'unlocking', 'unlocked', 'locking', 'jammed'] as const;
export type LockState = (typeof LOCK_STATES)[number];

export interface LockOptions {
  /** How long one attempt may take to reach the end-stop. */
  actuationTimeoutMs: number;
  /** Further attempts after the first times out, before declaring `jammed`. */
  retries: number;
  /** Relock this long after unlocking (0: never). Waits for the door to close. */
  autoRelockMs: number;
}

export type LockEvent =
  | { type: 'state'; state: LockState; previous: LockState }
  | { type: 'jammed'; target: DriveTarget; attempts: number }
  | { type: 'door'; door: DoorState; lock: LockState }
  | { type: 'door_forced' };

/**
 * The lock state machine:
 * locked -> unlocking -> unlocked -> (auto-relock) -> locking -> locked.
 * An attempt that does not reach its end-stop in time is stopped and retried;
 * when every attempt fails the lock is `jammed` until a later command succeeds.
 */
export class LockMachine {
  private current: LockState;
  private target: DriveTarget | null = null;
  private attempts = 0;
  private attemptTimer: TimerHandle | undefined;
  private relockTimer: TimerHandle | undefined;
  private relockWaitingForDoor = false;
  private holdOpen = false;
  private readonly listeners = new Listeners<LockEvent>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly actuator: LockActuator,
    private readonly door: DoorSensor,
    private readonly scheduler: Scheduler,
    private readonly options: LockOptions,
  ) {
    if (!(options.actuationTimeoutMs > 0)) throw new RangeError('options.actuationTimeoutMs must be > 0');
    if (!Number.isInteger(options.retries) || options.retries < 0)
      throw new RangeError('options.retries must be >= 0');
    if (!(options.autoRelockMs >= 0)) throw new RangeError('options.autoRelockMs must be >= 0');
    const position = actuator.position();
    this.current = position === 'unlocked' ? 'unlocked' : 'locked';
    this.unsubscribe.push(
      actuator.onPosition((p) => this.onPosition(p)),
      door.onChange((state) => this.onDoor(state)),
    );
  }

  get state(): LockState {
    return this.current;
  }

  onEvent(listener: (event: LockEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Brings the bolt to a known position at boot: whatever the end-stops say, drive to
   * locked (the safe state for a fail-secure door), unless held open.
   */
  start(): void {
    if (this.holdOpen) this.drive('unlocked');
    else if (this.actuator.position() !== 'locked') this.drive('locked');
  }

  unlock(): void {
    this.drive('unlocked');
  }

  lock(): void {
    if (this.holdOpen) return;
    this.drive('locked');
  }

  /** Passage mode: stay unlocked, no auto-relock. */
  setHoldOpen(hold: boolean): void {
    this.holdOpen = hold;
    if (hold) this.drive('unlocked');
    else if (this.current === 'unlocked') this.armRelock();
  }

  /** Stops the motor and every timer; leaves the bolt where it is. */
  dispose(): void {
    this.scheduler.cancel(this.attemptTimer);
    this.scheduler.cancel(this.relockTimer);
    for (const off of this.unsubscribe) off();
    this.listeners.clear();
  }

  private drive(target: DriveTarget): void {
    this.scheduler.cancel(this.relockTimer);
    this.relockTimer = undefined;
    this.relockWaitingForDoor = false;
    if (this.target === target) return;
    if (this.target === null && this.current === target && this.actuator.position() === target) {
      if (target === 'unlocked') this.armRelock();
      return;
    }
    this.target = target;
    this.attempts = 0;
    this.setState(target === 'unlocked' ? 'unlocking' : 'locking');
    this.attempt();
  }

  private attempt(): void {
    const target = this.target!;
    this.attempts++;
    this.scheduler.cancel(this.attemptTimer);
    this.attemptTimer = this.scheduler.after(this.options.actuationTimeoutMs, () => this.onTimeout());
    this.actuator.drive(target);
  }

  private onTimeout(): void {
    this.attemptTimer = undefined;
    const target = this.target;
    if (!target) return;
    this.actuator.stop();
    if (this.attempts <= this.options.retries) {
      this.attempt();
      return;
    }
    this.target = null;
    this.setState('jammed');
    this.listeners.emit({ type: 'jammed', target, attempts: this.attempts });
  }

  private onPosition(position: BoltPosition): void {
    if (position === 'between') return;
    if (this.target === null) {
      // Moved without a command: a strike relocking when its pulse ends, or a key turned.
      if (position !== this.current) {
        this.scheduler.cancel(this.relockTimer);
        this.relockTimer = undefined;
        this.setState(position);
        if (position === 'unlocked') this.armRelock();
      }
      return;
    }
    if (position !== this.target) return;
    this.scheduler.cancel(this.attemptTimer);
    this.attemptTimer = undefined;
    this.target = null;
    this.setState(position);
    if (position === 'unlocked') this.armRelock();
  }

  private armRelock(): void {
    if (this.holdOpen || this.options.autoRelockMs === 0) return;
    this.scheduler.cancel(this.relockTimer);
    this.relockTimer = this.scheduler.after(this.options.autoRelockMs, () => {
      this.relockTimer = undefined;
      if (this.door.state() === 'open') this.relockWaitingForDoor = true;
      else this.drive('locked');
    });
  }

  private onDoor(state: DoorState): void {
    this.listeners.emit({ type: 'door', door: state, lock: this.current });
    if (state === 'open' && this.current === 'locked') this.listeners.emit({ type: 'door_forced' });
    if (state === 'closed' && this.relockWaitingForDoor) {
      this.relockWaitingForDoor = false;
      this.drive('locked');
    }
  }

  private setState(state: LockState): void {
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    this.listeners.emit({ type: 'state', state, previous });
  }
}
