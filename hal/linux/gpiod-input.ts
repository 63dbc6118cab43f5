import { createInterface } from 'node:readline';
import { Listeners, later } from '../listeners.ts';
import { GpioError } from './errors.ts';
import type { GpioInput, InputRequest, LineAddress, LineValue } from './gpio-backend.ts';
import { describeLine } from './gpio-backend.ts';
import { gpiogetArgs, gpiomonArgs, parseEdgeLine, parseGetOutput } from './gpiod-args.ts';
import type { GpiodTools } from './gpiod-tools.ts';
import { HeldProcess } from './held-process.ts';
import { errorMessage } from './log.ts';

/** One input line: read once with `gpioget`, then followed edge by edge with `gpiomon`. */
export class CliInput implements GpioInput {
  readonly address: LineAddress;
  private level: LineValue = 0;
  private monitor: HeldProcess | undefined;
  private released = false;
  private restart: NodeJS.Timeout | undefined;
  private readonly listeners = new Listeners<LineValue>();

  constructor(
    private readonly request: InputRequest,
    private readonly tools: GpiodTools,
    private readonly forget: () => void,
  ) {
    this.address = { chip: request.chip, line: request.line };
  }

  value(): LineValue {
    return this.level;
  }

  onChange(listener: (value: LineValue) => void): () => void {
    return this.listeners.add(listener);
  }

  /**
   * Reads the level, then watches edges. gpiomon cannot report the level it starts
   * at, so an edge in the few milliseconds between the two is missed until the next.
   */
  async start(): Promise<void> {
    this.level = await this.readLevel();
    await this.watch();
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.restart);
    this.forget();
    this.listeners.clear();
    await this.monitor?.stop();
    this.monitor = undefined;
  }

  private async readLevel(): Promise<LineValue> {
    const output = await this.tools.run(this.tools.gpioget, gpiogetArgs(this.tools.major, this.request));
    const level = parseGetOutput(output);
    if (level === undefined)
      throw new GpioError(`unexpected gpioget output for ${describeLine(this.address)}`);
    return level;
  }

  /** After a monitor died: catch up on any change missed while nobody watched. */
  private async resume(): Promise<void> {
    this.update(await this.readLevel());
    await this.watch();
  }

  private async watch(): Promise<void> {
    const args = gpiomonArgs(this.tools.major, this.request, this.tools.consumer);
    const monitor = await HeldProcess.start(this.tools.gpiomon, args, this.tools);
    const stdout = monitor.child.stdout;
    if (stdout) {
      createInterface({ input: stdout }).on('line', (text) => {
        const edge = parseEdgeLine(this.tools.major, text);
        if (edge && edge.line === this.address.line && monitor === this.monitor) this.update(edge.value);
      });
    }
    monitor.onUnexpectedExit((detail) => this.lost(monitor, detail));
    this.monitor = monitor;
  }

  private update(level: LineValue): void {
    if (level === this.level) return;
    this.level = level;
    later(() => {
      if (!this.released) this.listeners.emit(level);
    });
  }

  private lost(monitor: HeldProcess, detail: string): void {
    if (this.released || this.monitor !== monitor) return;
    this.tools.log('error', 'gpio', 'edge monitor exited; watching the line again', {
      line: describeLine(this.address),
      detail,
    });
    this.monitor = undefined;
    this.restart = setTimeout(() => {
      if (this.released) return;
      this.resume().catch((error) =>
        this.tools.log('error', 'gpio', 'could not watch the line again', {
          line: describeLine(this.address),
          error: errorMessage(error),
        }),
      );
    }, this.tools.restartMs);
    this.restart.unref();
  }
}
