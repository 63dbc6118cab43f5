/**
 * The console's line editor: a pure state machine over input bytes, producing the
 * VT100 echo to send back and, at the end of a line, one event. No I/O, no timers:
 * the console feeds it one byte at a time and stops at each event, so a command runs
 * before the bytes typed after it are looked at.
 *
 * Understands what picocom, minicom and screen send: printable ASCII, BS and DEL,
 * Ctrl-A/B/C/E/F/K/L/N/P/U/W, Tab, CR, LF or CRLF, and the CSI/SS3 sequences of the
 * arrow, Home, End and Delete keys. Every other escape sequence is consumed whole and
 * ignored: other CSI and SS3 sequences, two-byte escapes (with their intermediates), and
 * the string sequences OSC, DCS, SOS, PM and APC up to their BEL or ST (ESC \), so a
 * terminal's answer or a pasted sequence never becomes typed text. Every other byte
 * (binary noise, UTF-8, NUL) is dropped without echo.
 */

export type EditorEvent =
  /** `secret`: the line was masked (it must not be repeated back either). */
  | { type: 'line'; line: string; secret?: true }
  /** Ctrl-C: the line was dropped (and a running command should stop). */
  | { type: 'interrupt' }
  /** The line grew past the limit; it was dropped at its end. */
  | { type: 'overflow'; maxLength: number };

export interface LineEditorOptions {
  /** Longest line kept; one more character drops the whole line at its end. */
  maxLength?: number;
  /** Lines kept for the up and down arrows. */
  historySize?: number;
  /**
   * Tab completion: the words that may replace the word the cursor is in, given the
   * text before the cursor. The editor filters by the typed prefix itself.
   */
  complete?: (before: string) => readonly string[];
  /**
   * Where a line's secret part starts (echoed as `*`, never kept in history), or
   * undefined when the line holds no secret.
   */
  secretFrom?: (line: string) => number | undefined;
}

export const DEFAULT_MAX_LINE = 256;
/** Longest CSI/SS3 sequence remembered; a longer one is still consumed, then ignored. */
const MAX_ESCAPE = 16;

/**
 * Where the editor is inside an escape sequence:
 * `esc` right after ESC; `csi`/`ss3` collecting `seq` (ESC [ or ESC O and parameters);
 * `intermediate` an ESC sequence's intermediate bytes until its final byte; `string` the
 * payload of an OSC, DCS, SOS, PM or APC, `stringEsc` an ESC inside one (ST is ESC \\).
 */
type EscapeState =
  | { at: 'esc' }
  | { at: 'csi'; seq: string }
  | { at: 'intermediate' }
  | { at: 'string' }
  | { at: 'stringEsc' };

/** ESC ] (OSC), ESC P (DCS), ESC X (SOS), ESC ^ (PM), ESC _ (APC). */
const STRING_INTRODUCERS = new Set([0x5d, 0x50, 0x58, 0x5e, 0x5f]);

const BEL = '\x07';
const CLEAR_TO_END = '\x1b[K';

export class LineEditor {
  private promptText = '';
  private line = '';
  private cursor = 0;
  private overflowed = false;
  private escape: EscapeState | null = null;
  private lastWasCr = false;
  private secretLine = false;
  /** The line held a secret: it stays masked whole, even with `login` edited away, until emptied. */
  private heldSecret = false;
  private readonly history: string[] = [];
  private historyIndex = 0;
  private stash = '';
  private out = '';
  private readonly maxLength: number;
  private readonly historySize: number;

  constructor(private readonly options: LineEditorOptions = {}) {
    this.maxLength = options.maxLength ?? DEFAULT_MAX_LINE;
    this.historySize = options.historySize ?? 50;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1)
      throw new RangeError('options.maxLength must be an integer >= 1');
    if (!Number.isInteger(this.historySize) || this.historySize < 0) {
      throw new RangeError('options.historySize must be an integer >= 0');
    }
  }

  /** The text typed so far on the current line (for tests). */
  get current(): string {
    return this.line;
  }

  /** Lines recalled by the up arrow, oldest first. */
  get recalled(): readonly string[] {
    return this.history;
  }

  /** Sets the prompt used by the next `showPrompt` and redraws. */
  set prompt(text: string) {
    this.promptText = text;
  }

  get prompt(): string {
    return this.promptText;
  }

  /** Starts a fresh line: writes the prompt. */
  showPrompt(): void {
    this.resetLine();
    this.out += this.promptText;
  }

  /** Forgets the history (the line went away: the next person on the cable recalls nothing). */
  forgetHistory(): void {
    this.history.length = 0;
    this.historyIndex = 0;
    this.stash = '';
  }

  /** The next line is secret as a whole (a token asked for on its own line). */
  maskNextLine(): void {
    this.secretLine = true;
  }

  /** Prints `text` on its own line(s) above the line being typed, then redraws it. */
  printAbove(text: string): void {
    this.out += `\r${CLEAR_TO_END}${text.replace(/\r?\n/g, '\r\n')}\r\n`;
    this.out += this.promptText + this.display(0) + this.moveLeft(this.line.length - this.cursor);
  }

  /** Echo and redraws produced since the last call. */
  takeOutput(): string {
    const text = this.out;
    this.out = '';
    return text;
  }

  /** Feeds one byte; returns the event it completes, if any. */
  step(byte: number): EditorEvent | undefined {
    const afterCr = this.lastWasCr;
    this.lastWasCr = byte === 0x0d;
    if (this.escape !== null) {
      if (this.stepEscape(byte)) return undefined;
    }
    if (byte >= 0x20 && byte <= 0x7e) {
      this.insert(String.fromCharCode(byte));
      return undefined;
    }
    switch (byte) {
      case 0x0d:
        return this.submit();
      case 0x0a:
        return afterCr ? undefined : this.submit();
      case 0x03:
        this.out += '^C\r\n';
        this.resetLine();
        return { type: 'interrupt' };
      case 0x08:
      case 0x7f:
        this.backspace();
        return undefined;
      case 0x15:
        this.overflowed = false;
        this.replaceLine('');
        return undefined;
      case 0x0b:
        this.killToEnd();
        return undefined;
      case 0x17:
        this.deleteWord();
        return undefined;
      case 0x01:
        this.moveTo(0);
        return undefined;
      case 0x05:
        this.moveTo(this.line.length);
        return undefined;
      case 0x02:
        this.moveTo(this.cursor - 1);
        return undefined;
      case 0x06:
        this.moveTo(this.cursor + 1);
        return undefined;
      case 0x10:
        this.recall(-1);
        return undefined;
      case 0x0e:
        this.recall(1);
        return undefined;
      case 0x0c:
        this.out += `\x1b[2J\x1b[H${this.promptText}${this.display(0)}${this.moveLeft(this.line.length - this.cursor)}`;
        return undefined;
      case 0x09:
        this.completeWord();
        return undefined;
      case 0x1b:
        this.escape = { at: 'esc' };
        return undefined;
      default:
        // NUL, other control bytes, and anything >= 0x80: noise on a plain ASCII console.
        return undefined;
    }
  }

  /** Consumes a byte of an escape sequence; false when the byte ended it and must be read normally. */
  private stepEscape(byte: number): boolean {
    const state = this.escape!;
    switch (state.at) {
      case 'esc':
        this.escape = null;
        if (byte === 0x5b || byte === 0x4f) this.escape = { at: 'csi', seq: String.fromCharCode(byte) };
        else if (STRING_INTRODUCERS.has(byte)) this.escape = { at: 'string' };
        else if (byte >= 0x20 && byte <= 0x2f) this.escape = { at: 'intermediate' };
        else if (byte === 0x1b) this.escape = { at: 'esc' };
        // ESC then a control byte (CR, Ctrl-C...): the ESC was noise, the byte is not.
        else return byte >= 0x20;
        return true;
      case 'intermediate':
        if (byte >= 0x20 && byte <= 0x2f) return true;
        this.escape = null;
        if (byte === 0x1b) return this.restartEscape();
        return byte >= 0x30 && byte <= 0x7e;
      case 'string':
        // BEL ends an OSC (xterm ends any string on it too); CAN and SUB cancel the
        // sequence; Ctrl-C cancels it and still interrupts. Everything else is payload.
        if (byte === 0x1b) this.escape = { at: 'stringEsc' };
        else if (byte === 0x07 || byte === 0x18 || byte === 0x1a) this.escape = null;
        else if (byte === 0x03) {
          this.escape = null;
          return false;
        }
        return true;
      case 'stringEsc':
        // ESC \ is ST; an ESC followed by anything else ends the string and begins anew.
        this.escape = null;
        if (byte === 0x5c) return true;
        this.escape = { at: 'esc' };
        return this.stepEscape(byte);
      case 'csi': {
        const { seq } = state;
        if (byte >= 0x20 && byte <= 0x3f) {
          // An overlong sequence is still consumed to its final byte, then ignored.
          if (seq.length < MAX_ESCAPE) state.seq = seq + String.fromCharCode(byte);
          else state.seq = `${seq.slice(0, MAX_ESCAPE)}?`;
          return true;
        }
        this.escape = null;
        if (byte < 0x40 || byte > 0x7e) return byte === 0x1b ? this.restartEscape() : false;
        if (seq.length <= MAX_ESCAPE) this.dispatchEscape(seq + String.fromCharCode(byte));
        return true;
      }
    }
  }

  private restartEscape(): boolean {
    this.escape = { at: 'esc' };
    return true;
  }

  private dispatchEscape(seq: string): void {
    switch (seq) {
      case '[A':
      case 'OA':
        this.recall(-1);
        return;
      case '[B':
      case 'OB':
        this.recall(1);
        return;
      case '[C':
      case 'OC':
        this.moveTo(this.cursor + 1);
        return;
      case '[D':
      case 'OD':
        this.moveTo(this.cursor - 1);
        return;
      case '[H':
      case 'OH':
      case '[1~':
      case '[7~':
        this.moveTo(0);
        return;
      case '[F':
      case 'OF':
      case '[4~':
      case '[8~':
        this.moveTo(this.line.length);
        return;
      case '[3~':
        this.deleteForward();
        return;
      default:
        // Function keys, mouse reports, cursor position answers: ignored.
        return;
    }
  }

  private submit(): EditorEvent {
    this.out += '\r\n';
    const line = this.line;
    const overflowed = this.overflowed;
    const secret = this.secretLine || this.heldSecret || this.options.secretFrom?.(line) !== undefined;
    this.resetLine();
    if (overflowed) return { type: 'overflow', maxLength: this.maxLength };
    if (
      !secret &&
      line.trim() !== '' &&
      this.history[this.history.length - 1] !== line &&
      this.historySize > 0
    ) {
      this.history.push(line);
      if (this.history.length > this.historySize) this.history.shift();
    }
    this.historyIndex = this.history.length;
    return secret ? { type: 'line', line, secret } : { type: 'line', line };
  }

  private resetLine(): void {
    this.line = '';
    this.cursor = 0;
    this.overflowed = false;
    this.escape = null;
    this.secretLine = false;
    this.heldSecret = false;
    this.historyIndex = this.history.length;
    this.stash = '';
  }

  private insert(char: string): void {
    if (this.overflowed) return;
    if (this.line.length >= this.maxLength) {
      // One bell, then silence until the end of the line: a flood must not echo.
      this.overflowed = true;
      this.out += BEL;
      return;
    }
    const before = this.secretStart();
    this.setLine(this.line.slice(0, this.cursor) + char + this.line.slice(this.cursor));
    this.cursor++;
    if (this.secretStart() !== before) this.redraw();
    else this.out += this.display(this.cursor - 1) + this.moveLeft(this.line.length - this.cursor);
  }

  private backspace(): void {
    if (this.overflowed || this.cursor === 0) return;
    const before = this.secretStart();
    this.setLine(this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor));
    this.cursor--;
    if (this.secretStart() !== before) this.redraw();
    else this.out += `\b${this.display(this.cursor)} ${this.moveLeft(this.line.length - this.cursor + 1)}`;
  }

  private deleteForward(): void {
    if (this.overflowed || this.cursor >= this.line.length) return;
    this.setLine(this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1));
    this.redraw();
  }

  private killToEnd(): void {
    if (this.overflowed) return;
    this.setLine(this.line.slice(0, this.cursor));
    this.out += CLEAR_TO_END;
  }

  private deleteWord(): void {
    if (this.overflowed) return;
    // Like bash: the spaces before the cursor, then the word before them.
    const start = this.line.slice(0, this.cursor).replace(/\S*\s*$/, '').length;
    this.setLine(this.line.slice(0, start) + this.line.slice(this.cursor));
    this.cursor = start;
    this.redraw();
  }

  private moveTo(position: number): void {
    if (this.overflowed) return;
    const target = Math.max(0, Math.min(this.line.length, position));
    if (target < this.cursor) this.out += this.moveLeft(this.cursor - target);
    else if (target > this.cursor) this.out += `\x1b[${target - this.cursor}C`;
    this.cursor = target;
  }

  private recall(direction: -1 | 1): void {
    if (this.overflowed || this.secretLine || this.heldSecret) return;
    const next = this.historyIndex + direction;
    if (next < 0 || next > this.history.length) return;
    if (this.historyIndex === this.history.length) this.stash = this.line;
    this.historyIndex = next;
    this.replaceLine(next === this.history.length ? this.stash : this.history[next]!);
  }

  private replaceLine(text: string): void {
    this.setLine(text);
    this.cursor = text.length;
    this.redraw();
  }

  private completeWord(): void {
    if (this.overflowed || this.secretLine || this.heldSecret || !this.options.complete) {
      this.out += BEL;
      return;
    }
    const before = this.line.slice(0, this.cursor);
    const secret = this.options.secretFrom?.(before);
    if (secret !== undefined && secret < before.length) {
      this.out += BEL;
      return;
    }
    const partial = /\S*$/.exec(before)![0];
    const matches = [...new Set(this.options.complete(before))]
      .filter((word) => word.startsWith(partial))
      .sort();
    if (matches.length === 0) {
      this.out += BEL;
      return;
    }
    const common = matches.length === 1 ? `${matches[0]} ` : commonPrefix(matches);
    const addition = common.slice(partial.length);
    if (addition && this.line.length + addition.length <= this.maxLength) {
      this.setLine(before + addition + this.line.slice(this.cursor));
      this.cursor += addition.length;
      this.redraw();
      return;
    }
    if (matches.length > 1) {
      this.out += `\r\n${matches.join('  ')}\r\n${this.promptText}${this.display(0)}${this.moveLeft(this.line.length - this.cursor)}`;
    } else {
      this.out += BEL;
    }
  }

  private redraw(): void {
    this.out += `\r${this.promptText}${this.display(0)}${CLEAR_TO_END}${this.moveLeft(this.line.length - this.cursor)}`;
  }

  /** Sets the line's text, noting when it comes to hold a secret (see heldSecret). */
  private setLine(text: string): void {
    this.line = text;
    if (text === '') {
      this.heldSecret = false;
      return;
    }
    const from = this.options.secretFrom?.(text);
    if (from !== undefined && from < text.length) this.heldSecret = true;
  }

  private secretStart(): number | undefined {
    if (this.secretLine) return 0;
    return this.options.secretFrom?.(this.line) ?? (this.heldSecret ? 0 : undefined);
  }

  /** The line from `from` as shown: secret characters as `*`. */
  private display(from: number): string {
    const secret = this.secretStart();
    if (secret === undefined) return this.line.slice(from);
    const shown = this.line.slice(from, Math.max(from, secret));
    return shown + '*'.repeat(this.line.length - Math.max(from, secret));
  }

  /** A few backspaces (what every terminal knows), or one CSI for longer moves. */
  private moveLeft(count: number): string {
    if (count <= 0) return '';
    return count <= 4 ? '\b'.repeat(count) : `\x1b[${count}D`;
  }
}

function commonPrefix(words: string[]): string {
  let prefix = words[0]!;
  for (const word of words) while (!word.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
