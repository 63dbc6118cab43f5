import { Listeners, later } from '../listeners.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../relay.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import type { DebouncedInput } from './debounced-input.ts';
import { checkDriveTarget } from './strike-actuator.ts';
import type { SwitchedOutput } from './switched-output.ts';

export interface MotorLines {
  /** Runs the motor toward the unlocked end-stop. */
  unlock: SwitchedOutput;
  /** Runs the motor toward the locked end-stop. */
  lock: SwitchedOutput;
  lockedStop: DebouncedInput;
  unlockedStop: DebouncedInput;
}

/**
 * A motor lock with two direction outputs and two end-stops. It only energises and
 * de-energises: the actuation timeout and the retries belong to the firmware
 * (hal/relay.ts). Power is cut on the first raw edge of the target end-stop (cutting
 * is always safe); the position is reported once the end-stop has settled.
 */
export class MotorActuator implements LockActuator {
  private readonly listeners = new Listeners<BoltPosition>();
  private readonly unsubscribe: Array<() => void> = [];
  private awaiting: DriveTarget | null = null;
  private deadTime: TimerHandle | undefined;
  /** Bumped by every drive() and stop(), so a reversal waiting on an off is dropped when superseded. */
  private generation = 0;
  private closed = false;

  constructor(
    private readonly lines: MotorLines,
    private readonly deadTimeMs: number,
    private readonly scheduler: Scheduler,
  ) {
    if (!Number.isFinite(deadTimeMs) || deadTimeMs < 0) throw new RangeError('deadTimeMs must be >= 0');
    for (const target of ['locked', 'unlocked'] as const) {
      const stop = this.endStop(target);
      this.unsubscribe.push(
        stop.onRaw((active) => this.rawEndStop(target, active)),
        stop.onStable((active) => this.settledEndStop(target, active)),
      );
    }
  }

  /**
   * The other direction must be confirmed off (its write resolved: the line holds the
   * level) and then stay off for `deadTimeMs` before this direction is energised. If it
   * cannot be switched off, this direction is never energised: the caller's timeout
   * sees no position and stops.
   */
  drive(target: DriveTarget): void {
    checkDriveTarget(target);
    if (this.closed) return;
    this.scheduler.cancel(this.deadTime);
    this.deadTime = undefined;
    const generation = ++this.generation;
    this.awaiting = target;
    if (this.endStop(target).active()) {
      this.cut();
      this.arrive(target);
      return;
    }
    const away = this.output(target === 'locked' ? 'unlocked' : 'locked');
    const energise = () => {
      this.deadTime = undefined;
      if (generation !== this.generation || this.awaiting !== target || this.closed) return;
      this.output(target)
        .on()
        .catch(() => undefined);
    };
    const offSince = away.offSince();
    if (!away.isOn() && offSince !== undefined && this.scheduler.now() - offSince >= this.deadTimeMs) {
      energise();
      return;
    }
    // A timer may fire a little early by the scheduler's clock (libuv rounds its loop
    // time to whole milliseconds): the dead time is measured again before energising.
    const afterDeadTime = (since: number) => {
      this.deadTime = undefined;
      if (generation !== this.generation) return;
      const wait = this.deadTimeMs - (this.scheduler.now() - since);
      if (wait > 0) this.deadTime = this.scheduler.after(wait, () => afterDeadTime(since));
      else energise();
    };
    away.off().then(
      () => {
        if (generation !== this.generation) return;
        afterDeadTime(away.offSince() ?? this.scheduler.now());
      },
      () => undefined, // logged by the output
    );
  }

  stop(): void {
    this.scheduler.cancel(this.deadTime);
    this.deadTime = undefined;
    this.generation++;
    this.awaiting = null;
    this.cut();
  }

  position(): BoltPosition {
    const locked = this.lines.lockedStop.active();
    const unlocked = this.lines.unlockedStop.active();
    if (locked && !unlocked) return 'locked';
    if (unlocked && !locked) return 'unlocked';
    return 'between';
  }

  onPosition(listener: (position: BoltPosition) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.stop();
    this.closed = true;
    this.listeners.clear();
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    const { unlock, lock, lockedStop, unlockedStop } = this.lines;
    await Promise.allSettled([unlock.off(), lock.off()]);
    await Promise.allSettled([
      unlock.release(),
      lock.release(),
      lockedStop.release(),
      unlockedStop.release(),
    ]);
  }

  private output(target: DriveTarget): SwitchedOutput {
    return target === 'unlocked' ? this.lines.unlock : this.lines.lock;
  }

  private endStop(target: DriveTarget): DebouncedInput {
    return target === 'unlocked' ? this.lines.unlockedStop : this.lines.lockedStop;
  }

  private cut(): void {
    this.lines.unlock.off().catch(() => undefined);
    this.lines.lock.off().catch(() => undefined);
  }

  private rawEndStop(target: DriveTarget, active: boolean): void {
    if (active && this.awaiting === target)
      this.output(target)
        .off()
        .catch(() => undefined);
  }

  private settledEndStop(target: DriveTarget, active: boolean): void {
    if (!active || this.awaiting !== target) return;
    this.cut();
    this.arrive(target);
  }

  private arrive(target: DriveTarget): void {
    this.awaiting = null;
    later(() => {
      if (!this.closed) this.listeners.emit(target);
    });
  }
}
