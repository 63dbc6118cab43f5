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

  drive(target: DriveTarget): void {
    checkDriveTarget(target);
    if (this.closed) return;
    this.scheduler.cancel(this.deadTime);
    this.deadTime = undefined;
    this.awaiting = target;
    if (this.endStop(target).active()) {
      this.cut();
      this.arrive(target);
      return;
    }
    const away = this.output(target === 'locked' ? 'unlocked' : 'locked');
    if (away.isOn()) {
      away.off().catch(() => undefined);
      this.deadTime = this.scheduler.after(this.deadTimeMs, () => {
        this.deadTime = undefined;
        if (this.awaiting === target)
          this.output(target)
            .on()
            .catch(() => undefined);
      });
      return;
    }
    this.output(target)
      .on()
      .catch(() => undefined);
  }

  stop(): void {
    this.scheduler.cancel(this.deadTime);
    this.deadTime = undefined;
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
