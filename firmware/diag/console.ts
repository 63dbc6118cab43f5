import { packageVersion as firmwareVersion } from '../cli.ts';
import type { Logger } from '../log.ts';
import { type Answer, DiagError, fail, renderAnswer, renderEvent } from './answer.ts';
import { buildRegistry } from './commands/index.ts';
import { type DiagContext, deviceIdOf } from './context.ts';
import { InputQueue } from './input-queue.ts';
import { DEFAULT_MAX_LINE, type EditorEvent, LineEditor } from './line-editor.ts';
import { loginLockout } from './login-lockout.ts';
import { Observations } from './observations.ts';
import type { CommandCall, CommandRegistry } from './registry.ts';
import { DiagSession, type SessionEndReason } from './session.ts';

export interface DiagConsoleOptions {
  /** Sends text to the technician. The transport drops what it cannot send; it must not throw. */
  write(text: string): void;
  log?: Logger;
  /** Input bytes waiting at most; the rest of a flood is dropped and reported. */
  maxPendingInput?: number;
  /** Input bytes looked at per event-loop turn, so a flood never holds up a keypad decision. */
  sliceBytes?: number;
  registry?: CommandRegistry;
}

interface Running {
  name: string;
  controller: AbortController;
  /** Set while the command waits for a line (a token typed on its own line). */
  asking: ((line: string) => void) | undefined;
}

/**
 * A line with a word starting `login` holds a token: everything typed after the word
 * is secret, with or without a space (`loginTOKEN` is a token typed in a hurry), and
 * wherever the word stands (`--json login TOKEN` logs in too). Such a line is masked,
 * never kept in the history and never quoted back.
 */
export function loginSecretFrom(line: string): number | undefined {
  const match = /(?:^|\s)login\s*/i.exec(line);
  return match ? match.index + match[0].length : undefined;
}

const END_MESSAGES: Partial<Record<SessionEndReason, string>> = {
  idle: 'session ended after 10 min idle: logged out',
  token_expired: 'technician token expired: logged out',
};

/**
 * The diagnostics console, independent of any transport: bytes in (`input`), text out
 * (`options.write`). Input is read a slice at a time on later event-loop turns and
 * commands run one at a time, asynchronously, so the lock's own work always gets a
 * turn in between; Ctrl-C stops a running command at once.
 */
export class DiagConsole {
  readonly session: DiagSession;
  private readonly editor: LineEditor;
  private readonly registry: CommandRegistry;
  private readonly queue: InputQueue;
  private readonly observed: Observations;
  private readonly sliceBytes: number;
  private running: Running | undefined;
  private pumpScheduled = false;
  private overrun = 0;
  private closed = false;

  constructor(
    private readonly ctx: DiagContext,
    private readonly options: DiagConsoleOptions,
  ) {
    if (typeof options?.write !== 'function') throw new TypeError('options.write must be a function');
    this.sliceBytes = options.sliceBytes ?? 512;
    if (!Number.isInteger(this.sliceBytes) || this.sliceBytes < 1)
      throw new RangeError('options.sliceBytes must be an integer >= 1');
    this.registry = options.registry ?? buildRegistry();
    this.queue = new InputQueue(options.maxPendingInput ?? 16 * 1024);
    this.observed = new Observations(ctx);
    this.session = new DiagSession(ctx, (reason) => this.onSessionEnd(reason));
    this.editor = new LineEditor({
      maxLength: DEFAULT_MAX_LINE,
      complete: (before) => this.registry.complete(before),
      secretFrom: loginSecretFrom,
    });
    this.observed.sample().catch(() => undefined);
    // The login lockout counts down from the console's start (boot), not from the next login.
    loginLockout(ctx.firmware.state, ctx.scheduler);
  }

  /** Greets a freshly opened line: a banner, then the prompt. */
  start(): void {
    if (this.closed) return;
    this.write(
      `\r\nTumbler lock ${deviceIdOf(this.ctx)}: diagnostics console, firmware ${firmwareVersion()}. Type help or ? for commands.\r\n`,
    );
    this.showPrompt();
  }

  /** Input bytes received but not read yet. */
  get pendingInput(): number {
    return this.queue.size;
  }

  /** Bytes from the technician. Never blocks: they are queued and read on later turns. */
  input(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    let chunk = bytes;
    if (this.running && !this.running.asking) {
      // While a command runs only Ctrl-C counts; what was typed before it is dropped too.
      const interrupt = chunk.lastIndexOf(0x03);
      if (interrupt >= 0) {
        this.queue.clear();
        this.running.controller.abort();
        chunk = chunk.subarray(interrupt + 1);
      }
    }
    this.queue.push(chunk);
    this.overrun += this.queue.takeDropped();
    this.schedulePump();
  }

  /**
   * For tests: resolves once the input so far is read and no command runs; with
   * `commands: false`, once the input is read or waits behind a running command.
   */
  async settled(options: { commands?: boolean; maxTurns?: number } = {}): Promise<void> {
    const { commands = true, maxTurns = 10_000 } = options;
    for (let turn = 0; turn < maxTurns; turn++) {
      const blocked = this.running !== undefined && !this.running.asking;
      const inputDone = !this.pumpScheduled && (this.queue.size === 0 || blocked);
      if (inputDone && (!commands || !this.running)) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error(`console did not settle within ${maxTurns} turns`);
  }

  /** The line went away (port closed, cable pulled): ends the login and any command, quietly. */
  hangUp(): void {
    this.queue.clear();
    this.queue.takeDropped();
    this.overrun = 0;
    const running = this.running;
    this.running = undefined;
    running?.controller.abort();
    this.session.end('port_closed');
    this.session.json = false;
    this.editor.forgetHistory();
    this.editor.showPrompt();
    this.editor.takeOutput();
  }

  /** Stops for good (shutdown). */
  close(): void {
    if (this.closed) return;
    this.hangUp();
    this.closed = true;
    this.session.dispose();
    this.observed.dispose();
  }

  private write(text: string): void {
    if (this.closed || text.length === 0) return;
    try {
      this.options.write(text);
    } catch (error) {
      this.options.log?.warn('console write failed', { error: (error as Error).message });
    }
  }

  private flush(): void {
    this.write(this.editor.takeOutput());
  }

  private promptText(): string {
    return `${deviceIdOf(this.ctx)}${this.session.privileged ? '#' : '>'} `;
  }

  private showPrompt(): void {
    this.editor.prompt = this.promptText();
    this.editor.showPrompt();
    this.flush();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed || this.queue.size === 0) return;
    if (this.running && !this.running.asking) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.closed) return;
    let budget = this.sliceBytes;
    if (this.queue.size > 0) this.session.touch();
    while (budget-- > 0 && (!this.running || this.running.asking)) {
      const byte = this.queue.shift();
      if (byte === undefined) break;
      const event = this.editor.step(byte);
      if (event) {
        // The echo of the line goes out before anything the line makes happen.
        this.flush();
        this.onEditorEvent(event);
      }
    }
    this.flush();
    if (this.queue.size > 0) this.schedulePump();
    else if (this.overrun > 0 && !this.running) this.reportOverrun();
  }

  private reportOverrun(): void {
    const dropped = this.overrun;
    this.overrun = 0;
    const answer = fail(
      'input_overrun',
      `input overrun: ${dropped} bytes dropped (typing faster than the console reads)`,
      { dropped },
    );
    this.editor.printAbove(renderAnswer(answer, 'input', this.session.json).replace(/\r\n$/, ''));
    this.flush();
  }

  private onEditorEvent(event: EditorEvent): void {
    const running = this.running;
    if (running?.asking) {
      const answer = running.asking;
      running.asking = undefined;
      if (event.type === 'line') answer(event.line);
      else running.controller.abort();
      return;
    }
    switch (event.type) {
      case 'line':
        this.execute(event.line, event.secret === true);
        return;
      case 'interrupt':
        this.showPrompt();
        return;
      case 'overflow':
        this.write(
          renderAnswer(
            fail('line_too_long', `line too long (over ${event.maxLength} characters); it was dropped`),
            'input',
            this.session.json,
          ),
        );
        this.showPrompt();
        return;
    }
  }

  private execute(line: string, secret: boolean): void {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((word) => word.length > 0);
    if (words.length === 0) {
      this.showPrompt();
      return;
    }
    // Per-command output flags, for tools that must not depend on the session's json mode.
    const plain = words.filter((word) => word !== '--json' && word !== '--plain');
    const json = words.includes('--json') ? true : words.includes('--plain') ? false : this.session.json;
    const found = this.registry.find(plain);
    if (!found && secret) {
      // `loginTOKEN`, or a login line edited: it may hold a token, so none of it is repeated.
      this.finish(
        fail(
          'unknown_command',
          'unknown command (a login line, not repeated: it may hold a token); to log in: login TOKEN',
        ),
        'login',
        json,
      );
      return;
    }
    if (!found) {
      const suggestions = this.registry.suggest(plain);
      const hint =
        suggestions.length > 0 ? `did you mean: ${suggestions.join(', ')}?` : 'type help for the list';
      this.finish(
        fail('unknown_command', `unknown command "${plain.join(' ').slice(0, 40)}"; ${hint}`),
        plain[0] ?? '',
        json,
      );
      return;
    }
    const { spec, args } = found;
    if (spec.privileged && !this.session.privileged) {
      this.finish(
        fail('login_required', `"${spec.name}" needs a technician login first: login TOKEN`),
        spec.name,
        json,
      );
      return;
    }
    const controller = new AbortController();
    const running: Running = { name: spec.name, controller, asking: undefined };
    this.running = running;
    const call: CommandCall = {
      args,
      ctx: this.ctx,
      session: this.session,
      registry: this.registry,
      observed: this.observed,
      signal: controller.signal,
      json,
      emit: (text, data) => {
        if (this.running === running) this.write(renderEvent(text, data, json));
      },
      ask: (prompt, options) => this.ask(running, prompt, options?.secret ?? false),
    };
    const interrupted = new Promise<Answer>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve(fail('interrupted', 'interrupted')), {
        once: true,
      }),
    );
    Promise.race([Promise.resolve().then(() => spec.run(call)), interrupted])
      .catch((error: unknown) => this.failure(error, spec.name))
      .then((answer) => {
        if (this.running !== running) return;
        this.running = undefined;
        controller.abort();
        this.finish(answer, spec.name, json);
      });
  }

  private finish(answer: Answer, name: string, json: boolean): void {
    this.write(renderAnswer(answer, name, json));
    this.showPrompt();
    this.schedulePump();
    if (this.queue.size === 0 && this.overrun > 0) this.reportOverrun();
  }

  private failure(error: unknown, name: string): Answer {
    if (error instanceof DiagError) return fail(error.code, error.message, error.data);
    // Messages only: a stack or an argument could carry something secret.
    this.options.log?.error('console command failed', {
      command: name,
      error: (error as Error)?.message ?? String(error),
    });
    return fail('internal_error', `internal error in "${name}"; the lock keeps running (details in its log)`);
  }

  private ask(running: Running, prompt: string, secret: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      if (running.controller.signal.aborted || this.running !== running) {
        reject(new DiagError('interrupted', 'interrupted'));
        return;
      }
      running.asking = resolve;
      running.controller.signal.addEventListener(
        'abort',
        () => reject(new DiagError('interrupted', 'interrupted')),
        {
          once: true,
        },
      );
      this.editor.prompt = prompt;
      this.editor.showPrompt();
      if (secret) this.editor.maskNextLine();
      this.flush();
      this.schedulePump();
    });
  }

  private onSessionEnd(reason: SessionEndReason): void {
    const message = END_MESSAGES[reason];
    if (!message || this.closed) return;
    this.options.log?.info('technician session ended', { reason });
    const text = renderEvent(message, { event: 'session_ended', reason }, this.session.json);
    if (this.running) {
      this.write(text);
      return;
    }
    this.editor.prompt = this.promptText();
    this.editor.printAbove(text.replace(/\r\n$/, ''));
    this.flush();
  }
}
