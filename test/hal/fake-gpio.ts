import { GpioError } from '../../hal/linux/errors.ts';
import type {
  ChipInfo,
  EdgeLinesRequest,
  GpioBackend,
  GpioEdgeLines,
  GpioInput,
  GpioOutput,
  InputRequest,
  LineAddress,
  LineBias,
  LineEdge,
  LineValue,
  OutputRequest,
} from '../../hal/linux/gpio-backend.ts';
import { Listeners, later } from '../../hal/listeners.ts';
import type { Scheduler } from '../../hal/scheduler.ts';

/** One line operation as the kernel would see it; `line` is "chip:offset", `at` the clock's time. */
export type GpioOp = (
  | { op: 'request-output'; line: string; value: LineValue }
  | { op: 'set'; line: string; value: LineValue }
  | { op: 'request-input'; line: string; bias: LineBias }
  | { op: 'release'; line: string }
) & { at?: number };

export function lineKey(address: LineAddress): string {
  return `${address.chip}:${address.line}`;
}

/**
 * A GPIO backend that records every line operation in order and plays input levels
 * back as edges (on a later tick, as gpiomon would). Requesting a held line fails
 * like the kernel's EBUSY.
 */
export class FakeGpioBackend implements GpioBackend {
  readonly ops: GpioOp[] = [];

  /**
   * `now` stamps each op (give it the scheduler's clock to assert timings); `chips` is
   * what gpiodetect would list (a Pi 4's header bank by default). With `latency`, each
   * set() drives the line that long after it is called and resolves then, one write at
   * a time per line, as a gpioset restart does; without it, at once.
   */
  constructor(
    private readonly now?: () => number,
    readonly chips: ChipInfo[] = [{ name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 }],
    readonly latency?: { ms: (line: string) => number; scheduler: Scheduler },
  ) {}

  async listChips(): Promise<ChipInfo[]> {
    return this.chips.map((chip) => ({ ...chip }));
  }

  private readonly outputs = new Map<string, FakeOutput>();
  private readonly inputs = new Map<string, FakeInput>();
  private readonly levels = new Map<string, LineValue>();
  private readonly outputListeners = new Listeners<{ line: string; value: LineValue }>();

  async requestOutput(request: OutputRequest): Promise<GpioOutput> {
    const key = lineKey(request);
    this.claim(key);
    this.record({ op: 'request-output', line: key, value: request.initial });
    const output = new FakeOutput(request, this);
    this.outputs.set(key, output);
    return output;
  }

  async requestInput(request: InputRequest): Promise<GpioInput> {
    const key = lineKey(request);
    this.claim(key);
    this.record({ op: 'request-input', line: key, bias: request.bias });
    const input = new FakeInput(request, this.levels.get(key) ?? 0, this);
    this.inputs.set(key, input);
    return input;
  }

  private readonly edgeLines = new Map<string, FakeEdgeLines>();

  /** Several lines in one ordered edge queue; `pulse()` plays a Wiegand bit on one of them. */
  async requestEdgeLines(request: EdgeLinesRequest): Promise<GpioEdgeLines> {
    const keys = request.lines.map((line) => lineKey({ chip: request.chip, line }));
    for (const key of keys) this.claim(key);
    for (const key of keys) this.record({ op: 'request-input', line: key, bias: request.bias });
    const lines = new FakeEdgeLines(request, this);
    for (const key of keys) this.edgeLines.set(key, lines);
    return lines;
  }

  /**
   * Hardware side: a low pulse on an edge line (a Wiegand bit), with kernel timestamps
   * `atNs` (falling) and 50 µs later (rising); all edges queued so far arrive together
   * on a later tick, as one readable wake-up of the fd would bring them.
   */
  pulse(chip: string, line: number, atNs: bigint): void {
    this.edgeLines.get(`${chip}:${line}`)?.queue([
      { line, rising: false, timestampNs: atNs },
      { line, rising: true, timestampNs: atNs + 50_000n },
    ]);
  }

  async close(): Promise<void> {
    for (const line of [
      ...this.outputs.values(),
      ...this.inputs.values(),
      ...new Set(this.edgeLines.values()),
    ])
      await line.release();
  }

  /** Hardware side: the input line now reads `value` (before or after it is requested). */
  setInput(chip: string, line: number, value: LineValue): void {
    const key = `${chip}:${line}`;
    this.levels.set(key, value);
    this.inputs.get(key)?.drive(value);
  }

  /** The level an output is driven to now, or undefined when nobody holds it. */
  outputLevel(chip: string, line: number): LineValue | undefined {
    return this.outputs.get(`${chip}:${line}`)?.driven();
  }

  isHeld(chip: string, line: number): boolean {
    const key = `${chip}:${line}`;
    return this.outputs.has(key) || this.inputs.has(key) || this.edgeLines.has(key);
  }

  /** Hears every output change, synchronously, like wires would. */
  onOutput(listener: (change: { line: string; value: LineValue }) => void): () => void {
    return this.outputListeners.add(listener);
  }

  /** Every op as one short string ("set gpiochip0:20=1 @400"), for exact sequence comparisons. */
  trace(): string[] {
    return this.ops.map((op) => {
      const time = op.at === undefined ? '' : ` @${op.at}`;
      if (op.op === 'request-input') return `request-input ${op.line} ${op.bias}${time}`;
      if (op.op === 'release') return `release ${op.line}${time}`;
      return `${op.op} ${op.line}=${op.value}${time}`;
    });
  }

  /** @internal */
  recordSet(key: string, value: LineValue): void {
    this.record({ op: 'set', line: key, value });
    this.outputListeners.emit({ line: key, value });
  }

  /** @internal */
  recordRelease(key: string): void {
    this.record({ op: 'release', line: key });
    this.outputs.delete(key);
    this.inputs.delete(key);
    this.edgeLines.delete(key);
  }

  private record(op: GpioOp): void {
    this.ops.push(this.now ? { ...op, at: this.now() } : op);
  }

  private claim(key: string): void {
    const chip = key.slice(0, key.indexOf(':'));
    if (!this.chips.some((known) => known.name === chip))
      throw new GpioError(`${chip}: No such file or directory`);
    if (this.outputs.has(key) || this.inputs.has(key) || this.edgeLines.has(key))
      throw new GpioError(`${key}: Device or resource busy`);
  }
}

class FakeOutput implements GpioOutput {
  readonly address: LineAddress;
  /** The level on the wire. */
  private level: LineValue;
  /** The level last asked for (what value() reports, as CliOutput does). */
  private wanted: LineValue;
  private queue: Promise<void> = Promise.resolve();
  private released = false;

  constructor(
    request: OutputRequest,
    private readonly backend: FakeGpioBackend,
  ) {
    this.address = { chip: request.chip, line: request.line };
    this.level = request.initial;
    this.wanted = request.initial;
  }

  value(): LineValue {
    return this.wanted;
  }

  /** The level on the wire now. */
  driven(): LineValue {
    return this.level;
  }

  async set(value: LineValue): Promise<void> {
    if (this.released) throw new GpioError(`${lineKey(this.address)} was released`);
    this.wanted = value;
    const latency = this.backend.latency;
    if (!latency) {
      this.drive(value);
      return;
    }
    const key = lineKey(this.address);
    const write = this.queue.then(
      () =>
        new Promise<void>((resolve) =>
          latency.scheduler.after(latency.ms(key), () => {
            if (!this.released) this.drive(value);
            resolve();
          }),
        ),
    );
    this.queue = write;
    return write;
  }

  private drive(value: LineValue): void {
    this.level = value;
    this.backend.recordSet(lineKey(this.address), value);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.backend.recordRelease(lineKey(this.address));
  }
}

class FakeInput implements GpioInput {
  readonly address: LineAddress;
  private readonly listeners = new Listeners<LineValue>();
  private released = false;

  constructor(
    request: InputRequest,
    private level: LineValue,
    private readonly backend: FakeGpioBackend,
  ) {
    this.address = { chip: request.chip, line: request.line };
  }

  value(): LineValue {
    return this.level;
  }

  onChange(listener: (value: LineValue) => void): () => void {
    return this.listeners.add(listener);
  }

  drive(value: LineValue): void {
    if (value === this.level) return;
    later(() => {
      if (this.released || value === this.level) return;
      this.level = value;
      this.listeners.emit(value);
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.listeners.clear();
    this.backend.recordRelease(lineKey(this.address));
  }
}

class FakeEdgeLines implements GpioEdgeLines {
  private readonly listeners = new Listeners<LineEdge>();
  private pending: LineEdge[] = [];
  private released = false;

  constructor(
    private readonly request: EdgeLinesRequest,
    private readonly backend: FakeGpioBackend,
  ) {}

  onEdge(listener: (edge: LineEdge) => void): () => void {
    return this.listeners.add(listener);
  }

  queue(edges: LineEdge[]): void {
    if (this.released) return;
    // Only the edges the request asked for, as the kernel queues them.
    edges = edges.filter((edge) => this.request.edges === 'both' || !edge.rising);
    if (this.pending.length === 0) later(() => this.drain());
    this.pending.push(...edges);
  }

  drain(): void {
    const batch = this.pending;
    this.pending = [];
    for (const edge of batch) if (!this.released) this.listeners.emit(edge);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.listeners.clear();
    for (const line of this.request.lines)
      this.backend.recordRelease(lineKey({ chip: this.request.chip, line }));
  }
}
