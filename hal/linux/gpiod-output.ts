import { GpioError } from './errors.ts';
import type { GpioOutput, LineAddress, LineValue, OutputRequest } from './gpio-backend.ts';
import { checkLineValue, describeLine } from './gpio-backend.ts';
import { gpiosetArgs } from './gpiod-args.ts';
import type { GpiodTools } from './gpiod-tools.ts';
import { HeldProcess } from './held-process.ts';
import { errorMessage } from './log.ts';

/**
 * One output line held by its own `gpioset`. A new value means stopping that holder
 * and starting another (the v1 tool cannot change a held value); changes queue in order.
 */
export class CliOutput implements GpioOutput {
  readonly address: LineAddress;
  private wanted: LineValue;
  private holder: HeldProcess | undefined;
  private queue: Promise<void> = Promise.resolve();
  private released = false;
  private restart: NodeJS.Timeout | undefined;

  constructor(
    request: OutputRequest,
    private readonly tools: GpiodTools,
    private readonly forget: () => void,
  ) {
    this.address = { chip: request.chip, line: request.line };
    this.wanted = request.initial;
  }

  value(): LineValue {
    return this.wanted;
  }

  set(value: LineValue): Promise<void> {
    checkLineValue('value', value);
    if (this.released) return Promise.reject(new GpioError(`${describeLine(this.address)} was released`));
    this.wanted = value;
    return this.enqueue(() => this.hold(value));
  }

  release(): Promise<void> {
    this.released = true;
    clearTimeout(this.restart);
    this.forget();
    return this.enqueue(async () => {
      await this.holder?.stop();
      this.holder = undefined;
    });
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The old holder must be gone before the new one can request the line. */
  private async hold(value: LineValue): Promise<void> {
    await this.holder?.stop();
    this.holder = undefined;
    const args = gpiosetArgs(this.tools.major, this.address, value, this.tools.consumer);
    const holder = await HeldProcess.start(this.tools.gpioset, args, this.tools);
    holder.child.stdout?.resume();
    holder.onUnexpectedExit((detail) => this.lost(holder, detail));
    this.holder = holder;
  }

  /** Somebody killed our gpioset: the line fell back; hold it again. */
  private lost(holder: HeldProcess, detail: string): void {
    if (this.released || this.holder !== holder) return;
    this.tools.log('error', 'gpio', 'line holder exited; holding the line again', {
      line: describeLine(this.address),
      detail,
    });
    this.holder = undefined;
    this.restart = setTimeout(() => {
      if (this.released) return;
      this.enqueue(() => this.hold(this.wanted)).catch((error) =>
        this.tools.log('error', 'gpio', 'could not hold the line again', {
          line: describeLine(this.address),
          error: errorMessage(error),
        }),
      );
    }, this.tools.restartMs);
    this.restart.unref();
  }
}
