import { afterEach } from 'vitest';
import { DiagConsole } from '../../firmware/diag/console.ts';
import type { DiagContext, DiagLink, DiagMatter } from '../../firmware/diag/context.ts';
import { deriveTechKey, mintTechToken } from '../../firmware/diag/tech-token.ts';
import type { LogControl } from '../../firmware/log.ts';
import { SimLock, type SimLockOptions } from '../../keypad-sim/sim-lock.ts';
import { answerLines, endsWithPrompt } from '../../scripts/lockdiag/transcript.ts';

const open: ConsoleHarness[] = [];
afterEach(async () => {
  for (const harness of open.splice(0)) await harness.close();
});

export interface HarnessOptions extends SimLockOptions {
  link?: DiagLink;
  matter?: DiagMatter;
}

/**
 * The console in-process on a SimLock with virtual time: type bytes, read what the
 * console sent back. Closed after each test.
 */
export class ConsoleHarness {
  output = '';
  readonly logControl: LogControl;
  console: DiagConsole;

  private constructor(
    readonly lock: SimLock,
    private readonly link: DiagLink | undefined,
    private readonly matter?: DiagMatter,
  ) {
    this.logControl = { level: 'silent', sink: { write: () => undefined } };
    this.console = this.attach();
  }

  static async create(options: HarnessOptions = {}): Promise<ConsoleHarness> {
    const { link, matter, ...lockOptions } = options;
    const lock = await SimLock.create({ travelMs: 0, ...lockOptions });
    const harness = new ConsoleHarness(lock, link, matter);
    open.push(harness);
    harness.console.start();
    await harness.idle();
    return harness;
  }

  get context(): DiagContext {
    return {
      firmware: this.lock.firmware,
      hal: this.lock.hal,
      scheduler: this.lock.scheduler,
      startedAt: 0,
      logControl: this.logControl,
      ...(this.link ? { link: this.link } : {}),
      ...(this.matter ? { matter: this.matter } : {}),
    };
  }

  /** A fresh console on the current firmware (after a power cycle). */
  reattach(): void {
    this.console.close();
    this.console = this.attach();
    this.console.start();
  }

  /** Sends raw bytes and lets the console and the lock act on them (no time passes). */
  async type(bytes: string | Uint8Array): Promise<void> {
    this.console.input(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    await this.idle();
  }

  /**
   * Types one command line and waits for the next prompt, moving virtual time on in
   * `stepMs` steps only while the answer is not there yet (motor travel, timeouts).
   */
  async run(line: string, options: { stepMs?: number; maxMs?: number } = {}): Promise<string[]> {
    const { stepMs = 100, maxMs = 120_000 } = options;
    this.output = '';
    this.console.input(Buffer.from(`${line}\r`, 'latin1'));
    for (let elapsed = 0; ; elapsed += stepMs) {
      if (await this.answered()) return answerLines(this.output);
      if (elapsed >= maxMs)
        throw new Error(`no answer to ${JSON.stringify(line)} within ${maxMs} ms virtual:\n${this.output}`);
      await this.lock.advance(stepMs);
    }
  }

  async json(line: string, options?: { stepMs?: number; maxMs?: number }): Promise<Record<string, unknown>> {
    const lines = await this.run(`${line} --json`, options);
    if (lines.length !== 1) throw new Error(`expected one JSON line, got:\n${lines.join('\n')}`);
    return JSON.parse(lines[0]!) as Record<string, unknown>;
  }

  /** A technician token for this lock, valid `validMs` from the lock's wall time. */
  token(validMs = 2 * 3_600_000, deviceId = this.lock.firmware.config.deviceId): string {
    return mintTechToken(
      deriveTechKey(this.lock.firmware.secret),
      deviceId,
      validMs,
      this.lock.firmware.manager.wallNow(),
    );
  }

  async login(validMs?: number): Promise<string[]> {
    return this.run(`login ${this.token(validMs)}`);
  }

  /** Lets the lock and the console act on what they have; a long command (keypad test) keeps running. */
  async idle(): Promise<void> {
    await this.lock.settle();
    await this.console.settled({ commands: false });
    for (let round = 0; round < 10; round++) await this.lock.settle();
  }

  async close(): Promise<void> {
    this.console.close();
    await this.lock.close();
  }

  private attach(): DiagConsole {
    return new DiagConsole(this.context, {
      write: (text) => {
        this.output += text;
      },
    });
  }

  private async answered(): Promise<boolean> {
    for (let turn = 0; turn < 50; turn++) {
      const echoEnd = this.output.indexOf('\r\n');
      if (echoEnd >= 0 && endsWithPrompt(this.output.slice(echoEnd))) return true;
      await this.lock.settle();
    }
    return false;
  }
}
