import { DeviceMissingError, GpioError } from './errors.ts';
import type {
  ChipInfo,
  GpioBackend,
  GpioInput,
  GpioOutput,
  InputRequest,
  OutputRequest,
} from './gpio-backend.ts';
import { checkAddress, checkLineValue } from './gpio-backend.ts';
import { type GpiodMajor, parseChipList, parseGpiodVersion } from './gpiod-args.ts';
import { CliInput } from './gpiod-input.ts';
import { CliOutput } from './gpiod-output.ts';
import type { GpiodTools } from './gpiod-tools.ts';
import { type DelayFn, type RunFn, realDelay, runCommand, type SpawnFn, spawnChild } from './held-process.ts';
import { errorCode, errorMessage, type HalLog, silentLog } from './log.ts';

export interface GpiodCliOptions {
  /** Directory of gpioset/gpiomon/gpioget; PATH lookup when absent. */
  toolsDir?: string;
  /** Consumer label shown by `gpioinfo` (v2 tools only; v1 always says "gpioset"/"gpiomon"). */
  consumer?: string;
  settleMs?: number;
  /** Wait before re-holding a line whose tool process died. */
  restartMs?: number;
  spawn?: SpawnFn;
  run?: RunFn;
  delay?: DelayFn;
  log?: HalLog;
}

/**
 * Finds the gpiod tools, learns their major version, and returns a backend that holds
 * every output line with its own long-lived `gpioset` and watches every input with
 * `gpiomon`. One process per line: changing a value restarts only that line's holder,
 * and during the restart the line passes through its released (pull) level, which the
 * wiring rules in docs/hardware.md make the inactive level, so no output glitches on.
 */
export async function createGpiodCliBackend(options: GpiodCliOptions = {}): Promise<GpioBackend> {
  const dir = options.toolsDir ? `${options.toolsDir.replace(/\/$/, '')}/` : '';
  const run = options.run ?? runCommand;
  const gpioset = `${dir}gpioset`;
  let versionText: string;
  try {
    versionText = await run(gpioset, ['--version']);
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if (errorCode(cause) === 'ENOENT') {
      throw new DeviceMissingError('board.gpio.toolsDir', gpioset, "install the Debian package 'gpiod'");
    }
    throw new GpioError(`could not run ${gpioset} --version: ${errorMessage(error)}`);
  }
  const major = parseGpiodVersion(versionText);
  if (!major) throw new GpioError(`unrecognised gpiod version: ${versionText.split('\n')[0]}`);
  return new GpiodCliBackend({
    major,
    gpioset,
    gpioget: `${dir}gpioget`,
    gpiomon: `${dir}gpiomon`,
    gpiodetect: `${dir}gpiodetect`,
    consumer: options.consumer ?? 'lockfw',
    settleMs: options.settleMs ?? 30,
    restartMs: options.restartMs ?? 1000,
    spawn: options.spawn ?? spawnChild,
    run,
    delay: options.delay ?? realDelay,
    log: options.log ?? silentLog,
  });
}

export class GpiodCliBackend implements GpioBackend {
  private readonly held = new Set<CliOutput | CliInput>();

  constructor(private readonly tools: GpiodTools) {}

  get major(): GpiodMajor {
    return this.tools.major;
  }

  async listChips(): Promise<ChipInfo[]> {
    return parseChipList(await this.tools.run(this.tools.gpiodetect, []));
  }

  async requestOutput(request: OutputRequest): Promise<GpioOutput> {
    checkAddress(request);
    checkLineValue('request.initial', request.initial);
    const output = new CliOutput(request, this.tools, () => this.held.delete(output));
    await output.set(request.initial);
    this.held.add(output);
    return output;
  }

  async requestInput(request: InputRequest): Promise<GpioInput> {
    checkAddress(request);
    const input = new CliInput(request, this.tools, () => this.held.delete(input));
    await input.start();
    this.held.add(input);
    return input;
  }

  async close(): Promise<void> {
    await Promise.all([...this.held].map((line) => line.release()));
  }
}
