import { Listeners, later } from '../listeners.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import {
  type Bit,
  decodeWiegand,
  type WiegandReader,
  type WiegandReading,
  type WiegandRefusal,
} from '../wiegand.ts';
import type { GpioBackend, GpioEdgeLines, LineBias, LineEdge } from './gpio-backend.ts';

export interface WiegandLines {
  /** /dev chip name (labels resolved). */
  chip: string;
  d0: number;
  d1: number;
  bias: LineBias;
  /** Silence after the last bit that ends a frame. */
  frameGapMs: number;
}

/** Longer than any format read here; beyond it only the count is kept, to refuse the frame by length. */
const MAX_BITS = 64;

/**
 * A Wiegand reader on two GPIO inputs. Both lines are one line request, so their
 * edges come in one queue in the order the kernel saw them, each with its
 * CLOCK_MONOTONIC timestamp: a falling edge on D0 is a 0, on D1 a 1. A frame ends at a
 * gap of `frameGapMs` between two bits' kernel timestamps (so a busy event loop that
 * reads two frames at once still splits them where the wires were silent), or when the
 * scheduler has seen that much silence after the last bit.
 */
export class GpioWiegand implements WiegandReader {
  private readonly readings = new Listeners<WiegandReading>();
  private readonly refusals = new Listeners<WiegandRefusal>();
  private bits: Bit[] = [];
  private count = 0;
  private lastNs: bigint | undefined;
  private flushTimer: TimerHandle | undefined;
  private closed = false;
  private readonly unsubscribe: () => void;

  private constructor(
    private readonly lines: GpioEdgeLines,
    private readonly config: WiegandLines,
    private readonly scheduler: Scheduler,
  ) {
    this.unsubscribe = lines.onEdge((edge) => this.edge(edge));
  }

  static async open(gpio: GpioBackend, config: WiegandLines, scheduler: Scheduler): Promise<GpioWiegand> {
    if (!gpio.requestEdgeLines)
      throw new TypeError(
        'a Wiegand reader needs a GPIO backend with ordered edge events (gpio.backend "uapi")',
      );
    if (config.d0 === config.d1) throw new RangeError('d0 and d1 must be different lines');
    const lines = await gpio.requestEdgeLines({
      chip: config.chip,
      lines: [config.d0, config.d1],
      bias: config.bias,
      edges: 'falling',
    });
    return new GpioWiegand(lines, config, scheduler);
  }

  onReading(listener: (reading: WiegandReading) => void): () => void {
    return this.readings.add(listener);
  }

  onRefused(listener: (refusal: WiegandRefusal) => void): () => void {
    return this.refusals.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scheduler.cancel(this.flushTimer);
    this.unsubscribe();
    this.readings.clear();
    this.refusals.clear();
    this.bits = [];
    await this.lines.release();
  }

  private edge(edge: LineEdge): void {
    if (this.closed || edge.rising) return;
    const bit: Bit | undefined =
      edge.line === this.config.d0 ? 0 : edge.line === this.config.d1 ? 1 : undefined;
    if (bit === undefined) return;
    const gapNs = BigInt(this.config.frameGapMs) * 1_000_000n;
    if (this.lastNs !== undefined && edge.timestampNs - this.lastNs >= gapNs) this.flush();
    this.lastNs = edge.timestampNs;
    this.count++;
    if (this.bits.length < MAX_BITS) this.bits.push(bit);
    this.scheduler.cancel(this.flushTimer);
    const timer = this.scheduler.after(this.config.frameGapMs, () => {
      // A blocked event loop runs timers before it polls: take what the kernel has
      // queued first; a bit found there restarts the wait instead of ending the frame.
      this.lines.drain();
      if (this.flushTimer === timer) this.flush();
    });
    this.flushTimer = timer;
  }

  private flush(): void {
    this.scheduler.cancel(this.flushTimer);
    this.flushTimer = undefined;
    const { bits, count } = this;
    this.bits = [];
    this.count = 0;
    this.lastNs = undefined;
    if (count === 0) return;
    const frame =
      count > MAX_BITS ? { ok: false as const, bits: count, reason: 'length' as const } : decodeWiegand(bits);
    later(() => {
      if (this.closed) return;
      if (frame.ok) this.readings.emit({ bits: frame.bits, digits: frame.digits });
      else this.refusals.emit({ bits: frame.bits, reason: frame.reason });
    });
  }
}
