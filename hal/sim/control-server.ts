import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { parseIsoInstant } from '../../firmware/validation.ts';
import type { SimHal } from '../index.ts';
import { isKey } from '../keypad.ts';
import type { VirtualScheduler } from '../scheduler.ts';
import { HAL_INPUT_NAMES, type HalInputName } from '../switch-input.ts';

/** Longest request line accepted; a longer one gets one `line_too_long` reply and is dropped whole. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Replies wait (and the client is not read) while this much output is not yet taken by the client. */
export const OUTPUT_HIGH_WATER = 64 * 1024;
/** Output a client may leave unread (events pile up while it does not read); past it, it is dropped. */
export const MAX_CLIENT_OUTPUT = 1024 * 1024;
/** The instants the socket accepts (rtc_set, sync_time): 2000-01-01T00:00:00Z up to 2100. */
export const MIN_INSTANT_MS = Date.UTC(2000, 0, 1);
export const MAX_INSTANT_MS = Date.UTC(2100, 0, 1) - 1;

export type ControlReply = Record<string, unknown>;

/** Commands the layer above adds (firmware status, events): return undefined for "not mine". */
export type ControlExtension = (request: Record<string, unknown>) => Promise<ControlReply | undefined>;

export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An instant field: epoch milliseconds (a whole number) or an ISO-8601 instant with an
 * offset, from 2000-01-01T00:00:00Z to 2099-12-31T23:59:59.999Z. Anything else (1e20,
 * true, "tomorrow") is refused, so nothing downstream ever sees a time it cannot print.
 */
export function parseControlInstant(value: unknown, field: string): number {
  const ms =
    typeof value === 'number' ? value : typeof value === 'string' ? parseIsoInstant(value) : undefined;
  if (ms === undefined || !Number.isInteger(ms) || ms < MIN_INSTANT_MS || ms > MAX_INSTANT_MS) {
    throw new ControlError(
      'bad_request',
      `${field} must be epoch milliseconds (a whole number) or an ISO-8601 instant with an offset, from 2000-01-01T00:00:00Z to 2099-12-31T23:59:59.999Z`,
    );
  }
  return ms;
}

/** Marks the place of a line that went over MAX_LINE_BYTES. */
const TOO_LONG: unique symbol = Symbol('line_too_long');

/** Per connection: the bytes of the line being read, and whether that line is being dropped. */
interface Client {
  socket: Socket;
  pending: Buffer[];
  pendingBytes: number;
  /** The current line went over MAX_LINE_BYTES: its rest is dropped up to its newline. */
  discarding: boolean;
  /** Complete lines waiting to be handled, or TOO_LONG where a line was dropped. */
  lines: Array<string | typeof TOO_LONG>;
  busy: boolean;
}

/**
 * The sim HAL's control socket: JSON lines over a Unix socket (docs/control-socket.md).
 * Each request `{"id":1,"cmd":"press","keys":"1234#"}` gets one reply with the same id;
 * pushed events (`{"event":...}`) go to every client. Bad requests get an error reply
 * and change nothing.
 */
export class SimControlServer {
  private readonly server: Server;
  private readonly clients = new Set<Client>();

  constructor(
    private readonly hal: SimHal,
    private readonly scheduler: VirtualScheduler,
    private readonly extension: ControlExtension = async () => undefined,
    /** Called after a command moved the RTC or time (to persist the sim clock). */
    private readonly onClockChange: () => void = () => {},
    /** Called when a client is disconnected for leaving too much output unread. */
    private readonly onClientDropped: (reason: 'output_overflow') => void = () => {},
  ) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /**
   * Listens on `path`, created 0600 whatever the umask: only the lock's own user may
   * press keys or set passage mode. A leftover socket there is replaced; any other file
   * is refused, never deleted.
   */
  listen(path: string): Promise<void> {
    let existing: ReturnType<typeof lstatSync> | undefined;
    try {
      existing = lstatSync(path);
    } catch {}
    if (existing && !existing.isSocket()) {
      return Promise.reject(
        Object.assign(
          new Error(`control socket path ${path} exists and is not a socket; refusing to replace it`),
          {
            code: 'control_socket_path',
          },
        ),
      );
    }
    if (existing) unlinkSync(path);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // The socket file takes its mode from the umask when it is bound (synchronously,
      // inside listen): a tight umask for that moment closes the window a chmod leaves.
      const umask = setUmask(0o177);
      try {
        this.server.listen(path, () => {
          this.server.off('error', reject);
          // Where the umask cannot be set (a worker thread), the mode is set right after.
          chmodSync(path, 0o600);
          resolve();
        });
      } finally {
        if (umask !== undefined) setUmask(umask);
      }
    });
  }

  /** Sends an event line to every connected client; one that has left too much unread is dropped. */
  broadcast(event: Record<string, unknown>): void {
    const line = `${JSON.stringify(event)}\n`;
    for (const client of this.clients) this.write(client, line);
  }

  close(): Promise<void> {
    for (const client of this.clients) client.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const client: Client = {
      socket,
      pending: [],
      pendingBytes: 0,
      discarding: false,
      lines: [],
      busy: false,
    };
    this.clients.add(client);
    socket.on('data', (chunk: Buffer) => {
      this.frame(client, chunk);
      this.pump(client);
    });
    // Replies wait for the client to read; reading resumes once they are taken.
    socket.on('drain', () => this.pump(client));
    socket.on('close', () => this.clients.delete(client));
    socket.on('error', () => this.clients.delete(client));
  }

  /** Splits input into lines; a line over the limit is answered once and dropped whole. */
  private frame(client: Client, chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      const part = chunk.subarray(start, end);
      if (!client.discarding) {
        if (client.pendingBytes + part.length > MAX_LINE_BYTES) {
          client.pending = [];
          client.pendingBytes = 0;
          client.discarding = true;
          client.lines.push(TOO_LONG);
        } else {
          client.pending.push(part);
          client.pendingBytes += part.length;
        }
      }
      if (newline < 0) break;
      if (!client.discarding) {
        const line = Buffer.concat(client.pending).toString('utf8').trim();
        if (line) client.lines.push(line);
      }
      client.pending = [];
      client.pendingBytes = 0;
      client.discarding = false;
      start = newline + 1;
    }
  }

  /**
   * Handles the client's lines one at a time, in order. While its output is not taken
   * (over OUTPUT_HIGH_WATER) or lines wait, the socket is not read: a client that never
   * reads costs at most one read of requests and OUTPUT_HIGH_WATER of replies.
   */
  private pump(client: Client): void {
    const { socket } = client;
    if (client.busy || socket.destroyed) return;
    if (client.lines.length > 0 || socket.writableLength > OUTPUT_HIGH_WATER) socket.pause();
    if (socket.writableLength > OUTPUT_HIGH_WATER) return;
    const line = client.lines.shift();
    if (line === undefined) {
      socket.resume();
      return;
    }
    client.busy = true;
    const handled =
      line === TOO_LONG
        ? Promise.resolve(
            this.send(client, {
              id: null,
              ok: false,
              error: 'line_too_long',
              message: `request lines are limited to ${MAX_LINE_BYTES} bytes; the line was dropped`,
            }),
          )
        : this.handleLine(client, line);
    const next = () => {
      client.busy = false;
      this.pump(client);
    };
    handled.then(next, next);
  }

  private async handleLine(client: Client, line: string): Promise<void> {
    let request: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      request = parsed as Record<string, unknown>;
    } catch {
      this.send(client, {
        id: null,
        ok: false,
        error: 'bad_json',
        message: 'each line must be one JSON object',
      });
      return;
    }
    const id = request.id ?? null;
    try {
      const reply = await this.handle(request);
      if (['rtc_set', 'rtc_lost', 'drift', 'advance', 'sync_time'].includes(String(request.cmd)))
        this.onClockChange();
      this.send(client, { id, ok: true, ...reply });
    } catch (error) {
      const code = error instanceof ControlError ? error.code : 'internal_error';
      this.send(client, { id, ok: false, error: code, message: (error as Error).message });
    }
  }

  private async handle(request: Record<string, unknown>): Promise<ControlReply> {
    const { hal } = this;
    switch (request.cmd) {
      case 'press': {
        const keys = request.keys;
        if (typeof keys !== 'string' || keys.length === 0 || keys.length > 64 || ![...keys].every(isKey)) {
          throw new ControlError('bad_request', 'keys must be 1-64 characters of 0-9, * and #');
        }
        hal.keypad.press(keys);
        return {};
      }
      case 'jam':
        hal.actuator.jam();
        return {};
      case 'unjam':
        hal.actuator.unjam();
        return {};
      case 'door': {
        if (request.state !== 'open' && request.state !== 'closed') {
          throw new ControlError('bad_request', 'state must be "open" or "closed"');
        }
        hal.door.set(request.state);
        return {};
      }
      case 'input': {
        const name = request.name;
        if (typeof name !== 'string' || !(HAL_INPUT_NAMES as readonly string[]).includes(name)) {
          throw new ControlError('bad_request', `name must be one of ${HAL_INPUT_NAMES.join(', ')}`);
        }
        if (typeof request.active !== 'boolean')
          throw new ControlError('bad_request', 'active must be true or false');
        hal.inputs[name as HalInputName].set(request.active);
        return {};
      }
      case 'rtc_set':
        hal.rtc.setTime(parseControlInstant(request.time, 'time'));
        return {};
      case 'rtc_lost':
        hal.rtc.loseBattery();
        return {};
      case 'drift': {
        const ppm = request.ppm;
        if (typeof ppm !== 'number' || !Number.isFinite(ppm) || Math.abs(ppm) > 1e6) {
          throw new ControlError('bad_request', 'ppm must be a number within ±1000000');
        }
        hal.rtc.drift(ppm);
        return {};
      }
      case 'advance': {
        const ms = request.ms;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 400 * 86_400_000) {
          throw new ControlError('bad_request', 'ms must be a number of milliseconds from 0 to 400 days');
        }
        await this.scheduler.advance(ms);
        return {};
      }
      case 'devices':
        return {
          rtc: hal.rtc.peek(),
          bolt: hal.actuator.position(),
          jammed: hal.actuator.isJammed(),
          door: hal.door.state(),
          inputs: Object.fromEntries(HAL_INPUT_NAMES.map((name) => [name, hal.inputs[name].active()])),
          led: hal.indicator.led,
          beep: hal.indicator.lastBeep,
        };
      default: {
        const reply = await this.extension(request);
        if (reply) return reply;
        throw new ControlError(
          'unknown_command',
          `unknown cmd ${JSON.stringify(request.cmd)}; see docs/control-socket.md`,
        );
      }
    }
  }

  private send(client: Client, reply: Record<string, unknown>): void {
    this.write(client, `${JSON.stringify(reply)}\n`);
  }

  /** Writes a line; a client holding more than MAX_CLIENT_OUTPUT unread is disconnected. */
  private write(client: Client, line: string): void {
    const { socket } = client;
    if (socket.destroyed) return;
    if (socket.writableLength + Buffer.byteLength(line) > MAX_CLIENT_OUTPUT) {
      this.clients.delete(client);
      this.onClientDropped('output_overflow');
      socket.destroy();
      return;
    }
    socket.write(line);
  }
}

/** process.umask where it is allowed (not in worker threads); the previous mask. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}
