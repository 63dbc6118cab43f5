import { readdir } from 'node:fs/promises';
import { Listeners, later } from '../listeners.ts';
import { GpioError } from './errors.ts';
import type {
  ChipInfo,
  EdgeLinesRequest,
  GpioBackend,
  GpioEdgeLines,
  GpioInput,
  GpioOutput,
  InputRequest,
  LineAddress,
  LineEdge,
  LineValue,
  OutputRequest,
} from './gpio-backend.ts';
import { checkAddress, checkLineValue, describeLine } from './gpio-backend.ts';
import { errorCode, errorMessage, type HalLog, silentLog } from './log.ts';
import { type GpioAddon, NATIVE_BIAS } from './uapi-native.ts';

export interface UapiBackendOptions {
  /** Where gpiochipN are (default /dev). */
  devRoot?: string;
  /** Consumer label `gpioinfo` shows for the lines held. */
  consumer?: string;
  log?: HalLog;
}

/** A Wiegand frame of 34 bits comes in well under 100 ms; the kernel keeps this many edges queued. */
const EDGE_QUEUE = 256;

function lineError(address: LineAddress, what: string, error: unknown): GpioError {
  const code = errorCode(error);
  const wrapped = new GpioError(`${describeLine(address)}: ${what} failed: ${errorMessage(error)}`);
  return code ? Object.assign(wrapped, { errno: code }) : wrapped;
}

/**
 * GPIO through the kernel's v2 character-device uAPI, in process (the native addon):
 * a line request per line, held by this process's fd until released. A write resolves
 * once the ioctl has returned, i.e. the kernel has driven the line; writes happen in
 * call order (they are synchronous). Inputs have edge detection from the moment they
 * are requested, so no edge is lost between the first read and the first event, and
 * every edge carries the kernel's timestamp. A released line (fd closed, or the
 * process gone) is what the kernel makes of it: see docs/hardware.md, strict_gpiod.
 */
export class UapiBackend implements GpioBackend {
  private readonly held = new Set<{ release(): Promise<void> }>();
  private readonly devRoot: string;
  private readonly consumer: string;
  private readonly log: HalLog;

  constructor(
    private readonly addon: GpioAddon,
    options: UapiBackendOptions = {},
  ) {
    this.devRoot = options.devRoot ?? '/dev';
    this.consumer = options.consumer ?? 'lockfw';
    this.log = options.log ?? silentLog;
  }

  async listChips(): Promise<ChipInfo[]> {
    const names = (await readdir(this.devRoot))
      .filter((name) => /^gpiochip\d+$/.test(name))
      .sort((a, b) => Number(a.slice(8)) - Number(b.slice(8)));
    return names.map((name) => {
      const info = this.addon.chipInfo(`${this.devRoot}/${name}`);
      return { name, label: info.label, lines: info.lines };
    });
  }

  async requestOutput(request: OutputRequest): Promise<GpioOutput> {
    checkAddress(request);
    checkLineValue('request.initial', request.initial);
    let fd: number;
    try {
      fd = this.addon.requestLines(this.path(request), this.consumer, [request.line], {
        output: true,
        values: request.initial,
      });
    } catch (error) {
      throw lineError(request, 'output request', error);
    }
    const output = new UapiOutput(request, fd, request.initial, this.addon, () => this.held.delete(output));
    this.held.add(output);
    return output;
  }

  async requestInput(request: InputRequest): Promise<GpioInput> {
    checkAddress(request);
    const input = new UapiInput(request, this.path(request), this.consumer, this.addon, this.log, () =>
      this.held.delete(input),
    );
    this.held.add(input);
    return input;
  }

  async requestEdgeLines(request: EdgeLinesRequest): Promise<GpioEdgeLines> {
    const lines = new UapiEdgeLines(request, this.path(request), this.consumer, this.addon, this.log, () =>
      this.held.delete(lines),
    );
    this.held.add(lines);
    return lines;
  }

  async close(): Promise<void> {
    await Promise.all([...this.held].map((line) => line.release()));
  }

  private path(address: { chip: string }): string {
    return `${this.devRoot}/${address.chip}`;
  }
}

class UapiOutput implements GpioOutput {
  readonly address: LineAddress;
  private released = false;

  constructor(
    address: LineAddress,
    private readonly fd: number,
    private level: LineValue,
    private readonly addon: GpioAddon,
    private readonly forget: () => void,
  ) {
    this.address = { chip: address.chip, line: address.line };
  }

  value(): LineValue {
    return this.level;
  }

  set(value: LineValue): Promise<void> {
    checkLineValue('value', value);
    if (this.released) return Promise.reject(new GpioError(`${describeLine(this.address)} was released`));
    try {
      this.addon.setValues(this.fd, 1, value);
    } catch (error) {
      return Promise.reject(lineError(this.address, 'write', error));
    }
    this.level = value;
    return Promise.resolve();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.forget();
    this.addon.closeFd(this.fd);
  }
}

/** Reads a request's queued edges whenever its fd is readable; stops on a poll error, logged. */
class EdgeReader {
  private readonly handle: object;
  private stopped = false;

  constructor(
    private readonly fd: number,
    private readonly addon: GpioAddon,
    private readonly log: HalLog,
    private readonly what: string,
    private readonly deliver: (edges: LineEdge[]) => void,
  ) {
    this.handle = addon.watch(fd, (error) => this.readable(error));
  }

  /** Reads what is queued now, without waiting for the poll. */
  drain(): void {
    this.readable(null);
  }

  private readable(error: string | null): void {
    if (this.stopped) return;
    if (error !== null) {
      this.log('error', 'gpio', 'edge events stopped', { line: this.what, error });
      this.stop();
      return;
    }
    let events: ReturnType<GpioAddon['readEvents']>;
    try {
      events = this.addon.readEvents(this.fd);
    } catch (caught) {
      this.log('error', 'gpio', 'edge events stopped', { line: this.what, error: errorMessage(caught) });
      this.stop();
      return;
    }
    if (events.length > 0)
      this.deliver(
        events.map((event) => ({ line: event.offset, rising: event.rising, timestampNs: event.timestampNs })),
      );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.addon.unwatch(this.handle);
  }
}

class UapiInput implements GpioInput {
  readonly address: LineAddress;
  private readonly listeners = new Listeners<{ value: LineValue; timestampNs: bigint }>();
  private readonly fd: number;
  private readonly reader: EdgeReader;
  private level: LineValue;
  private released = false;

  constructor(
    request: InputRequest,
    path: string,
    consumer: string,
    private readonly addon: GpioAddon,
    log: HalLog,
    private readonly forget: () => void,
  ) {
    this.address = { chip: request.chip, line: request.line };
    try {
      this.fd = addon.requestLines(path, consumer, [request.line], {
        output: false,
        edges: 'both',
        bias: NATIVE_BIAS[request.bias],
      });
    } catch (error) {
      throw lineError(this.address, 'input request', error);
    }
    try {
      // Edges are queued from the request on: one that lands before this read is
      // already in the level read, and is dropped as "no change" when it is delivered.
      this.level = addon.getValues(this.fd, 1) === 1 ? 1 : 0;
      this.reader = new EdgeReader(this.fd, addon, log, describeLine(this.address), (edges) => {
        for (const edge of edges) this.update(edge.rising ? 1 : 0, edge.timestampNs);
      });
    } catch (error) {
      addon.closeFd(this.fd);
      throw lineError(this.address, 'input read', error);
    }
  }

  value(): LineValue {
    return this.level;
  }

  onChange(listener: (value: LineValue, timestampNs?: bigint) => void): () => void {
    return this.listeners.add(({ value, timestampNs }) => listener(value, timestampNs));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.forget();
    this.listeners.clear();
    this.reader.stop();
    this.addon.closeFd(this.fd);
  }

  private update(level: LineValue, timestampNs: bigint): void {
    if (level === this.level) return;
    this.level = level;
    later(() => {
      if (!this.released) this.listeners.emit({ value: level, timestampNs });
    });
  }
}

class UapiEdgeLines implements GpioEdgeLines {
  private readonly listeners = new Listeners<LineEdge>();
  private readonly fd: number;
  private readonly reader: EdgeReader;
  private released = false;

  constructor(
    request: EdgeLinesRequest,
    path: string,
    consumer: string,
    private readonly addon: GpioAddon,
    log: HalLog,
    private readonly forget: () => void,
  ) {
    const what = `${request.chip} lines ${request.lines.join(',')}`;
    for (const line of request.lines) checkAddress({ chip: request.chip, line });
    try {
      this.fd = addon.requestLines(path, consumer, [...request.lines], {
        output: false,
        edges: request.edges,
        bias: NATIVE_BIAS[request.bias],
        bufferSize: EDGE_QUEUE,
      });
    } catch (error) {
      throw new GpioError(`${what}: input request failed: ${errorMessage(error)}`);
    }
    this.reader = new EdgeReader(this.fd, addon, log, what, (edges) => {
      for (const edge of edges) if (!this.released) this.listeners.emit(edge);
    });
  }

  onEdge(listener: (edge: LineEdge) => void): () => void {
    return this.listeners.add(listener);
  }

  drain(): void {
    if (!this.released) this.reader.drain();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.forget();
    this.listeners.clear();
    this.reader.stop();
    this.addon.closeFd(this.fd);
  }
}
