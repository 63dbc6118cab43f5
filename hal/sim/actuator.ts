import { Listeners, later } from '../listeners.ts';
import type { BoltPosition, DriveTarget, LockActuator } from '../relay.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';

export interface SimActuatorOptions {
  /** Time the bolt takes from one end-stop to the other. */
  travelMs?: number;
  initial?: BoltPosition;
}

export interface DriveRecord {
  target: DriveTarget;
  at: number;
}

/**
 * Simulated motor lock with end-stops. Test controls: `jam()`, `unjam()`, and the
 * recording `drives` (every energise, with scheduler time) and `stops`.
 */
export class SimActuator implements LockActuator {
  readonly drives: DriveRecord[] = [];
  stops = 0;
  private current: BoltPosition;
  private energised: DriveTarget | null = null;
  private jammed = false;
  private travel: TimerHandle | undefined;
  private readonly listeners = new Listeners<BoltPosition>();
  private readonly travelMs: number;

  constructor(
    private readonly scheduler: Scheduler,
    options: SimActuatorOptions = {},
  ) {
    this.travelMs = options.travelMs ?? 400;
    if (!Number.isFinite(this.travelMs) || this.travelMs < 0) throw new RangeError('travelMs must be >= 0');
    this.current = options.initial ?? 'locked';
  }

  drive(target: DriveTarget): void {
    if (target !== 'locked' && target !== 'unlocked')
      throw new RangeError(`target must be locked or unlocked`);
    this.scheduler.cancel(this.travel);
    this.energised = target;
    this.drives.push({ target, at: this.scheduler.now() });
    if (this.jammed) return;
    if (this.current === target) {
      this.arrive(target);
      return;
    }
    this.current = 'between';
    this.travel = this.scheduler.after(this.travelMs, () => this.arrive(target));
  }

  stop(): void {
    this.scheduler.cancel(this.travel);
    this.travel = undefined;
    if (this.energised) this.stops++;
    this.energised = null;
  }

  position(): BoltPosition {
    return this.current;
  }

  /** Whether the motor is energised now, and toward which end. */
  energisedToward(): DriveTarget | null {
    return this.energised;
  }

  onPosition(listener: (position: BoltPosition) => void): () => void {
    return this.listeners.add(listener);
  }

  /** The bolt sticks where it is: no end-stop is reached until `unjam()`. */
  jam(): void {
    this.jammed = true;
    this.scheduler.cancel(this.travel);
    this.travel = undefined;
  }

  unjam(): void {
    this.jammed = false;
  }

  isJammed(): boolean {
    return this.jammed;
  }

  async close(): Promise<void> {
    this.stop();
    this.listeners.clear();
  }

  private arrive(target: DriveTarget): void {
    this.travel = undefined;
    this.current = target;
    this.energised = null;
    later(() => this.listeners.emit(target));
  }
}
