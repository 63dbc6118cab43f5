import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Key, Keypad } from '../keypad.ts';
import { Listeners } from '../listeners.ts';
import type { Scheduler, TimerHandle } from '../scheduler.ts';
import { DeviceMissingError } from './errors.ts';
import { EV_KEY, type InputEventSize, KEY_PRESS, parseInputEvents } from './input-event.ts';
import { errorCode, errorMessage, type HalLog, silentLog } from './log.ts';

/** The little of a FileHandle the keypad uses; tests pass devices that fail on cue. */
export interface InputDevice {
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
  stat(): Promise<{ ino: number; dev: number }>;
  close(): Promise<void>;
}

export type OpenInputDevice = (path: string) => Promise<InputDevice>;
/** Takes an opened device exclusively (EVIOCGRAB); throws if it cannot. */
export type GrabInputDevice = (device: InputDevice) => void;
export type StatPath = (path: string) => Promise<{ ino: number; dev: number }>;

/** Non-blocking, so a poll never parks a libuv worker thread on an idle keypad. */
export const openInputDevice: OpenInputDevice = (path) =>
  open(path, constants.O_RDONLY | constants.O_NONBLOCK);

export interface EvdevKeypadOptions {
  /** /dev/input/eventN, or better a stable /dev/input/by-id/...-event-kbd link. */
  path: string;
  keymap: ReadonlyMap<number, Key>;
  eventSize: InputEventSize;
  pollMs: number;
  /** How often to look for the device again after it went away. */
  reconnectMs: number;
  open?: OpenInputDevice;
  /** Called on every (re)open before any event is read; a device it refuses is not used. */
  grab?: GrabInputDevice;
  statPath?: StatPath;
  log?: HalLog;
}

/** Read errors that mean the device has gone (USB unplug: ENODEV). */
const GONE = new Set(['ENODEV', 'EIO', 'ENXIO', 'EBADF', 'ENOENT']);
const EVENTS_PER_READ = 64;

/**
 * A USB or GPIO keypad seen through the kernel input layer. Reads key presses
 * (EV_KEY value 1; releases and autorepeat are ignored) on the scheduler's clock,
 * maps codes through the board keymap and drops unmapped keys. Survives unplugging:
 * it keeps looking for the path and carries on when the device comes back.
 * Keys are never logged: they are PIN digits.
 */
export class EvdevKeypad implements Keypad {
  private readonly listeners = new Listeners<Key>();
  private readonly openDevice: OpenInputDevice;
  private readonly statPath: StatPath;
  private readonly log: HalLog;
  private readonly buffer: Buffer;
  private device: InputDevice | undefined;
  private identity: { ino: number; dev: number } | undefined;
  private carry: Buffer = Buffer.alloc(0);
  private poller: TimerHandle | undefined;
  private inFlight: Promise<void> | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private closed = false;

  private constructor(
    private readonly options: EvdevKeypadOptions,
    private readonly scheduler: Scheduler,
  ) {
    this.openDevice = options.open ?? openInputDevice;
    this.statPath = options.statPath ?? stat;
    this.log = options.log ?? silentLog;
    this.buffer = Buffer.alloc(options.eventSize * EVENTS_PER_READ);
  }

  /** Opens the device now; a missing device at start is an error naming the path. */
  static async open(options: EvdevKeypadOptions, scheduler: Scheduler): Promise<EvdevKeypad> {
    if (typeof options.path !== 'string' || !options.path.startsWith('/')) {
      throw new TypeError('options.path must be an absolute path');
    }
    for (const name of ['pollMs', 'reconnectMs'] as const) {
      if (!Number.isFinite(options[name]) || options[name] <= 0)
        throw new RangeError(`options.${name} must be > 0`);
    }
    const keypad = new EvdevKeypad(options, scheduler);
    try {
      await keypad.connect();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        throw new DeviceMissingError(
          'board.keypad.device',
          options.path,
          'plug in the keypad, then check ls -l /dev/input/by-id',
        );
      }
      throw error;
    }
    keypad.poller = scheduler.every(options.pollMs, () => keypad.tick());
    return keypad;
  }

  onKey(listener: (key: Key) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Whether the device is open now (false while unplugged). */
  connected(): boolean {
    return this.device !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scheduler.cancel(this.poller);
    this.listeners.clear();
    await this.inFlight;
    await this.disconnect();
  }

  private tick(): void {
    if (this.inFlight || this.closed) return;
    this.inFlight = this.cycle()
      .catch((error) => this.log('error', 'keypad', 'read cycle failed', { error: errorMessage(error) }))
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  private async cycle(): Promise<void> {
    if (this.device) return this.drain(this.device);
    if (this.scheduler.now() - this.lastAttempt < this.options.reconnectMs) return;
    try {
      await this.connect();
      this.log('info', 'keypad', 'keypad connected', { path: this.options.path });
    } catch (error) {
      if (!GONE.has(errorCode(error) ?? '')) {
        this.log('warn', 'keypad', 'keypad could not be opened', {
          path: this.options.path,
          code: errorCode(error),
        });
      }
    }
  }

  private async connect(): Promise<void> {
    this.lastAttempt = this.scheduler.now();
    const device = await this.openDevice(this.options.path);
    try {
      this.identity = await device.stat();
      this.options.grab?.(device);
    } catch (error) {
      await device.close().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await device.close().catch(() => undefined);
      return;
    }
    this.device = device;
    this.carry = Buffer.alloc(0);
  }

  /** Reads until the device has nothing more (EAGAIN); a bounded number of rounds per tick. */
  private async drain(device: InputDevice): Promise<void> {
    for (let round = 0; round < 16 && !this.closed; round++) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await device.read(this.buffer, 0, this.buffer.length, null));
      } catch (error) {
        const code = errorCode(error);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        this.log('warn', 'keypad', 'keypad went away', {
          path: this.options.path,
          code: code ?? errorMessage(error),
        });
        await this.disconnect();
        return;
      }
      if (bytesRead === 0) {
        // An evdev node never reads 0; a removed node or a writerless FIFO does.
        if (!(await this.stillThere())) {
          this.log('warn', 'keypad', 'keypad went away', { path: this.options.path, code: 'EOF' });
          await this.disconnect();
        }
        return;
      }
      this.consume(this.buffer.subarray(0, bytesRead));
      if (bytesRead < this.buffer.length) return;
    }
  }

  private consume(bytes: Buffer): void {
    const { events, rest } = parseInputEvents(Buffer.concat([this.carry, bytes]), this.options.eventSize);
    this.carry = rest;
    for (const event of events) {
      if (event.type !== EV_KEY || event.value !== KEY_PRESS) continue;
      const key = this.options.keymap.get(event.code);
      if (key !== undefined && !this.closed) this.listeners.emit(key);
    }
  }

  private async stillThere(): Promise<boolean> {
    try {
      const now = await this.statPath(this.options.path);
      return now.ino === this.identity?.ino && now.dev === this.identity?.dev;
    } catch {
      return false;
    }
  }

  private async disconnect(): Promise<void> {
    const device = this.device;
    this.device = undefined;
    this.identity = undefined;
    this.carry = Buffer.alloc(0);
    this.lastAttempt = this.scheduler.now();
    await device?.close().catch(() => undefined);
  }
}
