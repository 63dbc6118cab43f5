import type { Answer } from './answer.ts';
import type { DiagContext } from './context.ts';
import type { Observations } from './observations.ts';
import type { DiagSession } from './session.ts';

/** One command invocation, as a command's `run` sees it. */
export interface CommandCall {
  /** The words after the command's name (`--json` removed). */
  readonly args: string[];
  readonly ctx: DiagContext;
  readonly session: DiagSession;
  readonly registry: CommandRegistry;
  /** Keypad activity and RTC drift, watched while the console runs. */
  readonly observed: Observations;
  /** Aborted by Ctrl-C (and when the port closes): long commands stop waiting. */
  readonly signal: AbortSignal;
  readonly json: boolean;
  /** Streams one line before the answer (keypad test's keys). */
  emit(line: string, data: Record<string, unknown>): void;
  /** Asks for one more line (a token typed on its own line); `secret` masks its echo. */
  ask(prompt: string, options?: { secret?: boolean }): Promise<string>;
}

export interface CommandSpec {
  /** The words that name it: "status", "time set", "keypad test". */
  name: string;
  aliases?: string[];
  /** The name with its arguments: "why [N]". */
  usage: string;
  /** One line for `help`. */
  summary: string;
  /** More lines for `help CMD`. */
  details?: string[];
  /** Needs a technician login. */
  privileged?: boolean;
  /** Words Tab offers for argument number `index`. */
  completeArg?: (index: number) => readonly string[];
  run(call: CommandCall): Promise<Answer> | Answer;
}

export interface FoundCommand {
  spec: CommandSpec;
  args: string[];
}

const words = (name: string) => name.split(' ');

/** The console's commands by name; lookup by the longest name the line starts with. */
export class CommandRegistry {
  private readonly specs: CommandSpec[] = [];
  private readonly byName = new Map<string, CommandSpec>();

  add(spec: CommandSpec): this {
    for (const name of [spec.name, ...(spec.aliases ?? [])]) {
      if (this.byName.has(name))
        throw new RangeError(`spec.name: command ${JSON.stringify(name)} exists already`);
      this.byName.set(name, spec);
    }
    this.specs.push(spec);
    return this;
  }

  list(): readonly CommandSpec[] {
    return this.specs;
  }

  get(name: string): CommandSpec | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The command `line`'s words name (command words are case-insensitive), and its arguments. */
  find(lineWords: string[]): FoundCommand | undefined {
    for (let n = Math.min(lineWords.length, 3); n > 0; n--) {
      const spec = this.byName.get(lineWords.slice(0, n).join(' ').toLowerCase());
      if (spec) return { spec, args: lineWords.slice(n) };
    }
    return undefined;
  }

  /** Names that start with the words typed: "keypad" suggests "keypad test". */
  suggest(lineWords: string[]): string[] {
    const typed = lineWords.join(' ').toLowerCase();
    const first = (lineWords[0] ?? '').toLowerCase();
    return this.specs
      .map((spec) => spec.name)
      .filter((name) => name.startsWith(typed) || (first.length >= 2 && words(name)[0] === first));
  }

  /** Words Tab may put at the cursor, given the text before it. */
  complete(before: string): string[] {
    const typed = before.trimStart().split(/\s+/);
    const done = typed.slice(0, -1).map((w) => w.toLowerCase());
    if (done[0] === 'help' || done[0] === '?') {
      return done.length === 1 ? [...new Set(this.specs.map((spec) => words(spec.name)[0]!))] : [];
    }
    const out = new Set<string>();
    for (const [name, spec] of this.byName) {
      const parts = words(name);
      const matchesSoFar = done.every((word, i) => i >= parts.length || parts[i] === word);
      if (!matchesSoFar) continue;
      if (done.length < parts.length) out.add(parts[done.length]!);
      else if (spec.completeArg && done.slice(0, parts.length).join(' ') === name) {
        for (const word of spec.completeArg(done.length - parts.length)) out.add(word);
      }
    }
    return [...out];
  }
}
