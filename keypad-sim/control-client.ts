import { connect, type Socket } from 'node:net';

export type ControlEvent = Record<string, unknown> & { event: string };

/**
 * Client for the sim HAL's control socket (docs/control-socket.md): request/reply
 * by id, plus pushed events.
 */
export class ControlClient {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<
    number,
    { resolve: (reply: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  private readonly eventListeners = new Set<(event: ControlEvent) => void>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      for (const { reject } of this.pending.values()) reject(new Error('control socket closed'));
      this.pending.clear();
    });
  }

  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer from control socket ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ControlClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new Error(
            `cannot connect to control socket ${path}: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
          ),
        );
      });
    });
  }

  /** Sends a command; resolves with the reply, rejects with the error reply's message. */
  async request(cmd: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const reply = await this.send(cmd, fields);
    if (reply.ok !== true) throw new Error(`${cmd}: ${String(reply.error)}: ${String(reply.message)}`);
    return reply;
  }

  /** Sends a command and resolves with whatever reply comes, error replies included. */
  send(cmd: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error('control socket closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...fields, id, cmd })}\n`);
    });
  }

  /** Writes raw bytes (tests of bad input). */
  writeRaw(text: string): void {
    this.socket.write(text);
  }

  onEvent(listener: (event: ControlEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Resolves with the first pushed event that matches, or rejects after `timeoutMs`. */
  waitForEvent(match: (event: ControlEvent) => boolean, timeoutMs = 10_000): Promise<ControlEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((event) => {
        if (!match(event)) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf('\n');
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (typeof message.event === 'string') {
        for (const listener of this.eventListeners) listener(message as ControlEvent);
        continue;
      }
      const waiter = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
      if (waiter) {
        this.pending.delete(message.id as number);
        waiter.resolve(message);
      } else if (message.id === null) {
        // A reply to a line the server could not parse (no id to match): an event.
        for (const listener of this.eventListeners) listener({ ...message, event: 'error_reply' });
      }
    }
  }
}
