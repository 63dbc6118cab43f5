import { Listeners, later } from '../listeners.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../relay.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import type { SwitchedOutput } from './switched-output.ts';

export interface StrikeOptions {
  /** fail-secure: energised = unlocked (electric strike). fail-safe: energised = locked (maglock). */
  failMode: 'fail-secure' | 'fail-safe';
  /** fail-secure only: de-energise after this long, to spare the coil. */
  pulseMs?: number;
}

export function checkDriveTarget(target: unknown): asserts target is DriveTarget {
  if (target !== 'locked' && target !== 'unlocked') {
    throw new RangeError(`target must be 'locked' or 'unlocked', got ${String(target)}`);
  }
}

/**
 * A strike or maglock on one relay. It has no end-stops, so it reports the target
 * reached once the relay output holds the new level. When a fail-secure pulse ends the
 * strike relocks by itself and `onPosition('locked')` says so. `stop()` de-energises,
 * which for a fail-safe maglock releases the door, exactly as a power cut would.
 */
export class StrikeActuator implements LockActuator {
  private readonly listeners = new Listeners<BoltPosition>();
  private pulse: TimerHandle | undefined;
  private generation = 0;
  private closed = false;

  constructor(
    private readonly relay: SwitchedOutput,
    private readonly options: StrikeOptions,
    private readonly scheduler: Scheduler,
  ) {
    if (options.failMode !== 'fail-secure' && options.failMode !== 'fail-safe') {
      throw new RangeError(`options.failMode must be 'fail-secure' or 'fail-safe'`);
    }
    if (options.pulseMs !== undefined && (!Number.isFinite(options.pulseMs) || options.pulseMs <= 0)) {
      throw new RangeError('options.pulseMs must be a number > 0');
    }
  }

  drive(target: DriveTarget): void {
    checkDriveTarget(target);
    if (this.closed) return;
    this.scheduler.cancel(this.pulse);
    this.pulse = undefined;
    const generation = ++this.generation;
    const energise = (target === 'unlocked') === (this.options.failMode === 'fail-secure');
    const applied = energise ? this.relay.on() : this.relay.off();
    applied.then(
      () => this.report(generation, target),
      () => undefined, // logged by the output; no position, so the caller's timeout sees it
    );
    if (energise && this.options.failMode === 'fail-secure' && this.options.pulseMs !== undefined) {
      this.pulse = this.scheduler.after(this.options.pulseMs, () => this.endPulse(generation));
    }
  }

  stop(): void {
    this.scheduler.cancel(this.pulse);
    this.pulse = undefined;
    this.generation++;
    this.relay.off().catch(() => undefined);
  }

  position(): BoltPosition {
    const unlocked = this.relay.isOn() === (this.options.failMode === 'fail-secure');
    return unlocked ? 'unlocked' : 'locked';
  }

  onPosition(listener: (position: BoltPosition) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.stop();
    this.closed = true;
    this.listeners.clear();
    await this.relay.off().catch(() => undefined);
    await this.relay.release();
  }

  private endPulse(generation: number): void {
    this.pulse = undefined;
    if (generation !== this.generation) return;
    const next = ++this.generation;
    this.relay.off().then(
      () => this.report(next, 'locked'),
      () => undefined,
    );
  }

  private report(generation: number, position: DriveTarget): void {
    if (generation !== this.generation || this.closed) return;
    later(() => {
      if (!this.closed) this.listeners.emit(position);
    });
  }
}
