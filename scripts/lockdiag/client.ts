import { StringDecoder } from 'node:string_decoder';
import { SerialPort } from 'serialport';
import { TumblerError } from '../../firmware/errors.ts';
import { answerLines, endsWithPrompt } from './transcript.ts';

const CTRL_C = '\x03';

/**
 * One lockdiag connection to a lock's serial console: brings the console to a fresh
 * prompt, sends one command line at a time and reads up to the next prompt.
 */
export class DiagClient {
  private received = '';
  private readonly decoder = new StringDecoder('utf8');
  private waiter: (() => void) | undefined;
  private closedError: Error | undefined;

  private constructor(
    private readonly port: SerialPort,
    readonly path: string,
  ) {
    port.on('data', (chunk: Buffer) => {
      this.received += this.decoder.write(chunk);
      this.waiter?.();
    });
    port.on('close', () => {
      this.closedError = new TumblerError('port_closed', `${path} closed`);
      this.waiter?.();
    });
    port.on('error', (error: Error) => {
      this.closedError = new TumblerError('port_error', `${path}: ${error.message}`);
      this.waiter?.();
    });
  }

  /** Opens the port (no DTR/RTS changes, hupcl off: ptys refuse those). */
  static open(path: string, baud: number): Promise<DiagClient> {
    const port = new SerialPort({ path, baudRate: baud, autoOpen: false, hupcl: false });
    return new Promise((resolve, reject) => {
      port.open((error) => {
        if (error) reject(new TumblerError('port_unavailable', `cannot open ${path}: ${error.message}`));
        else resolve(new DiagClient(port, path));
      });
    });
  }

  /** Raw access for the interactive terminal. */
  get serial(): SerialPort {
    return this.port;
  }

  /**
   * Brings the console to an empty prompt: Ctrl-C drops a half-typed line or stops a
   * running command; then what arrives late is drained.
   */
  async sync(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const poke of [CTRL_C, '\r', CTRL_C]) {
      this.received = '';
      await this.write(poke);
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      if (await this.waitFor(() => endsWithPrompt(this.received), Math.min(remaining, timeoutMs / 2))) {
        await this.quiet(60);
        this.received = '';
        return;
      }
    }
    throw new TumblerError(
      'no_prompt',
      `no console prompt on ${this.path} within ${timeoutMs} ms (is lockfw running with --serial, at the same baud rate?)`,
    );
  }

  /** Sends one command line; resolves with its answer lines when the next prompt arrives. */
  async run(line: string, timeoutMs: number): Promise<string[]> {
    if (/[\r\n]/.test(line)) throw new TypeError('line must be a single line');
    this.received = '';
    await this.write(`${line}\r`);
    const done = () => {
      const echoEnd = this.received.indexOf('\r\n');
      return echoEnd >= 0 && endsWithPrompt(this.received.slice(echoEnd));
    };
    if (!(await this.waitFor(done, timeoutMs))) {
      await this.write(CTRL_C).catch(() => undefined);
      throw new TumblerError('timeout', `no answer within ${timeoutMs} ms`);
    }
    return answerLines(this.received);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.port.isOpen) {
        resolve();
        return;
      }
      this.port.close(() => resolve());
    });
  }

  private write(text: string): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.port.write(text, (error) => (error ? reject(error) : this.port.drain(() => resolve())));
    });
  }

  /** Waits until `condition` holds (checked on every chunk); false on timeout. */
  private waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) finish(() => resolve(true));
        else if (this.closedError) finish(() => reject(this.closedError));
      };
      const timer = setTimeout(() => finish(() => resolve(false)), timeoutMs);
      const finish = (action: () => void) => {
        clearTimeout(timer);
        this.waiter = undefined;
        action();
      };
      this.waiter = check;
      check();
    });
  }

  /** Waits until nothing has arrived for `ms`. */
  private async quiet(ms: number): Promise<void> {
    for (let rounds = 0; rounds < 20; rounds++) {
      const before = this.received.length;
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (this.received.length === before) return;
    }
  }
}
