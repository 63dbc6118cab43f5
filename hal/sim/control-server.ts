import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { SimHal } from '../index.ts';
import { isKey } from '../keypad.ts';
import type { VirtualScheduler } from '../scheduler.ts';

/** Longest request line accepted; a longer one is refused and the buffer dropped. */
export const MAX_LINE_BYTES = 64 * 1024;

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

function parseInstant(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new ControlError('bad_request', `${field} must be an ISO-8601 instant or epoch milliseconds`);
}

/**
 * The sim HAL's control socket: JSON lines over a Unix socket (docs/control-socket.md).
 * Each request `{"id":1,"cmd":"press","keys":"1234#"}` gets one reply with the same id;
 * pushed events (`{"event":...}`) go to every client. Bad requests get an error reply
 * and change nothing.
 */
export class SimControlServer {
  private readonly server: Server;
  private readonly clients = new Set<Socket>();

  constructor(
    private readonly hal: SimHal,
    private readonly scheduler: VirtualScheduler,
    private readonly extension: ControlExtension = async () => undefined,
    /** Called after a command moved the RTC or time (to persist the sim clock). */
    private readonly onClockChange: () => void = () => {},
  ) {
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(path: string): Promise<void> {
    if (existsSync(path)) unlinkSync(path);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Sends an event line to every connected client. */
  broadcast(event: Record<string, unknown>): void {
    const line = `${JSON.stringify(event)}\n`;
    for (const client of this.clients) if (!client.destroyed) client.write(line);
  }

  close(): Promise<void> {
    for (const client of this.clients) client.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.clients.add(socket);
    socket.setEncoding('utf8');
    let buffer = '';
    let queue = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE_BYTES && !buffer.includes('\n')) {
        buffer = '';
        this.send(socket, {
          id: null,
          ok: false,
          error: 'line_too_long',
          message: `request lines are limited to ${MAX_LINE_BYTES} bytes`,
        });
        return;
      }
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) queue = queue.then(() => this.handleLine(socket, line));
        newline = buffer.indexOf('\n');
      }
    });
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => this.clients.delete(socket));
  }

  private async handleLine(socket: Socket, line: string): Promise<void> {
    let request: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      request = parsed as Record<string, unknown>;
    } catch {
      this.send(socket, {
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
      this.send(socket, { id, ok: true, ...reply });
    } catch (error) {
      const code = error instanceof ControlError ? error.code : 'internal_error';
      this.send(socket, { id, ok: false, error: code, message: (error as Error).message });
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
      case 'rtc_set':
        hal.rtc.setTime(parseInstant(request.time, 'time'));
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

  private send(socket: Socket, reply: Record<string, unknown>): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  }
}
