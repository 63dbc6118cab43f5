import { SerialPort } from 'serialport';
import type { Logger } from '../log.ts';
import { BAUD_RATES, DEFAULT_BAUD } from './baud.ts';
import { DiagConsole } from './console.ts';
import type { DiagContext } from './context.ts';

export interface SerialConsoleOptions {
  /** /dev/ttyS0, /dev/ttyAMA0, a USB gadget /dev/ttyGS0, or a pty in tests. */
  path: string;
  baud?: number;
  context: DiagContext;
  log: Logger;
  /** Wait before reopening a port that failed or went away, doubling up to `maxMs`. */
  retry?: { initialMs: number; maxMs: number };
  /** Output queued for a slow or absent reader, at most; beyond it output is dropped. */
  maxPendingOutput?: number;
}

export interface SerialConsole {
  readonly console: DiagConsole;
  /** Whether the port is open now. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/**
 * Serves the diagnostics console on a serial device through node-serialport. Opened
 * without touching DTR/RTS and with hupcl off (ptys refuse those ioctls; a board's
 * UART does not need them). When the port errors or closes (a USB-serial cable or
 * gadget unplugged, the pty's other end gone) the login ends and the port is reopened
 * with backoff until it comes back; the lock runs on regardless.
 */
export function startSerialConsole(options: SerialConsoleOptions): SerialConsole {
  const { path, context, log } = options;
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError('options.path must be a non-empty string');
  const baud = options.baud ?? DEFAULT_BAUD;
  if (!(BAUD_RATES as readonly number[]).includes(baud)) {
    throw new RangeError(`options.baud must be one of ${BAUD_RATES.join(', ')}`);
  }
  const retry = options.retry ?? { initialMs: 250, maxMs: 5000 };
  const maxPendingOutput = options.maxPendingOutput ?? 64 * 1024;
  let port: SerialPort | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = retry.initialMs;
  let failing = false;
  let droppedOutput = 0;

  const diag = new DiagConsole(context, { write: send, log });

  function send(text: string): void {
    const current = port;
    if (!current?.isOpen) return;
    // Nobody reading (cable unplugged on the far side): drop rather than queue without end.
    if (current.writableLength > maxPendingOutput) {
      droppedOutput += text.length;
      return;
    }
    if (droppedOutput > 0) {
      log.debug('serial console output dropped', { bytes: droppedOutput });
      droppedOutput = 0;
    }
    current.write(text);
  }

  function open(): void {
    retryTimer = undefined;
    if (closed) return;
    const candidate = new SerialPort({ path, baudRate: baud, autoOpen: false, hupcl: false });
    candidate.on('data', (chunk: Buffer) => {
      if (port === candidate) diag.input(chunk);
    });
    candidate.on('error', (error: Error) => lost(candidate, error));
    candidate.on('close', (error?: Error) => lost(candidate, error));
    candidate.open((error) => {
      if (error) {
        // The first failure of a streak is worth a warning; the retries every few seconds are not.
        if (!failing)
          log.warn('serial console cannot open its port; retrying', { path, error: error.message });
        else log.debug('serial console open retry failed', { path, error: error.message });
        failing = true;
        scheduleReopen();
        return;
      }
      if (closed) {
        candidate.close(() => undefined);
        return;
      }
      port = candidate;
      failing = false;
      delay = retry.initialMs;
      log.info('serial console open', { path, baud });
      diag.start();
    });
  }

  function lost(candidate: SerialPort, error?: Error): void {
    if (port !== candidate) return;
    port = undefined;
    diag.hangUp();
    if (candidate.isOpen) candidate.close(() => undefined);
    if (closed) return;
    log.warn('serial console lost its port; reopening', { path, ...(error ? { error: error.message } : {}) });
    scheduleReopen();
  }

  function scheduleReopen(): void {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(open, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, retry.maxMs);
  }

  open();

  return {
    console: diag,
    get connected() {
      return port?.isOpen ?? false;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      diag.close();
      const current = port;
      port = undefined;
      if (!current?.isOpen) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        current.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
