import { describe, expect, it } from 'vitest';
import { loginSecretFrom } from '../../firmware/diag/console.ts';
import { type EditorEvent, LineEditor, type LineEditorOptions } from '../../firmware/diag/line-editor.ts';

/** Feeds bytes; returns the events and the echo. */
function feed(editor: LineEditor, input: string | number[]): { events: EditorEvent[]; echo: string } {
  const bytes = typeof input === 'string' ? [...Buffer.from(input, 'latin1')] : input;
  const events: EditorEvent[] = [];
  for (const byte of bytes) {
    const event = editor.step(byte);
    if (event) events.push(event);
  }
  return { events, echo: editor.takeOutput() };
}

function editor(options: LineEditorOptions = {}): LineEditor {
  const e = new LineEditor(options);
  e.prompt = 'lock-1> ';
  e.showPrompt();
  e.takeOutput();
  return e;
}

const lines = (events: EditorEvent[]) =>
  events.filter((e) => e.type === 'line').map((e) => (e as { line: string }).line);

describe('LineEditor', () => {
  it('echoes printable characters and submits on CR, LF or CRLF (once)', () => {
    const e = editor();
    const { events, echo } = feed(e, 'status\r');
    expect(echo).toBe('status\r\n');
    expect(events).toEqual([{ type: 'line', line: 'status' }]);
    expect(lines(feed(e, 'a\nb\r\nc\r\r').events)).toEqual(['a', 'b', 'c', '']);
  });

  it('handles BS and DEL, and Ctrl-U clears the line', () => {
    const e = editor();
    const typed = feed(e, 'stx\x7fa\x08atus');
    expect(e.current).toBe('status');
    expect(typed.echo).toContain('\b \b');
    feed(e, '\x15');
    expect(e.current).toBe('');
    expect(lines(feed(e, 'why\r').events)).toEqual(['why']);
    // Backspace on an empty line does nothing.
    expect(feed(e, '\x7f\x08').echo).toBe('');
  });

  it('Ctrl-C drops the line and reports an interrupt', () => {
    const e = editor();
    const { events, echo } = feed(e, 'mode set\x03');
    expect(events).toEqual([{ type: 'interrupt' }]);
    expect(echo.endsWith('^C\r\n')).toBe(true);
    expect(e.current).toBe('');
  });

  it('drops non-printable bytes, UTF-8 and NUL without echo', () => {
    const e = editor();
    const { echo } = feed(e, [0x00, 0x01 + 0x1e, 0x80, 0xc3, 0xa9, 0xff, 0x11, 0x13, 0x7e]);
    expect(e.current).toBe('~');
    expect(echo).toBe('~');
  });

  it('recalls history with the arrows (CSI and SS3), keeps what was being typed', () => {
    const e = editor();
    feed(e, 'status\rwhy 3\r');
    feed(e, 'ev');
    feed(e, '\x1b[A');
    expect(e.current).toBe('why 3');
    feed(e, '\x1bOA');
    expect(e.current).toBe('status');
    feed(e, '\x1b[A');
    expect(e.current).toBe('status');
    feed(e, '\x1b[B\x1b[B');
    expect(e.current).toBe('ev');
    feed(e, '\x10');
    expect(e.current).toBe('why 3');
    expect(e.recalled).toEqual(['status', 'why 3']);
  });

  it('does not store consecutive duplicates, empty lines or secret lines', () => {
    const e = editor({ secretFrom: loginSecretFrom });
    feed(e, 'status\rstatus\r\r   \rlogin tt1.lock-1.abc\r');
    expect(e.recalled).toEqual(['status']);
  });

  it('masks the secret part of a line in the echo, including redraws', () => {
    const e = editor({ secretFrom: loginSecretFrom });
    const { echo } = feed(e, 'login tt1.secret\r');
    expect(echo).not.toContain('tt1');
    expect(echo).not.toContain('secret');
    expect(echo).toContain('login ');
    expect(echo).toContain('*'.repeat('tt1.secret'.length));
    // Moving back into the line and editing it redraws masked as well.
    const edit = feed(e, 'login abcd\x1b[D\x1b[DX\x7f');
    expect(edit.echo.replaceAll('lock-1> ', '').replaceAll('login', '')).not.toMatch(/[abcdX]/);
    feed(e, '\x03');
    e.maskNextLine();
    expect(feed(e, 'whole-line\r').echo).toBe('**********\r\n');
  });

  it('moves the cursor and inserts in the middle of the line', () => {
    const e = editor();
    feed(e, 'sttus');
    feed(e, '\x1b[D\x1b[D\x1b[D');
    feed(e, 'a');
    expect(e.current).toBe('status');
    feed(e, '\x01X\x05Y');
    expect(e.current).toBe('XstatusY');
    feed(e, '\x1b[H\x1b[3~');
    expect(e.current).toBe('statusY');
    feed(e, '\x1b[F\x08');
    expect(e.current).toBe('status');
  });

  it('Ctrl-W deletes the word before the cursor; Ctrl-K the rest of the line', () => {
    const e = editor();
    feed(e, 'mode set vacation\x17');
    expect(e.current).toBe('mode set ');
    feed(e, '\x17');
    expect(e.current).toBe('mode ');
    feed(e, '\x01\x06\x06\x0b');
    expect(e.current).toBe('mo');
  });

  it('ignores unknown and overlong escape sequences, then reads on', () => {
    const e = editor();
    feed(e, '\x1b[15~\x1b[1;5A\x1bOP\x1b[?1049h');
    // An overlong CSI is consumed to its final byte like any other.
    feed(e, `\x1b[${'9'.repeat(40)}m`);
    feed(e, 'ok');
    expect(e.current).toBe('ok');
    // ESC followed by CR: the ESC is noise, the CR still submits.
    const e2 = editor();
    expect(lines(feed(e2, 'status\x1b\r').events)).toEqual(['status']);
  });

  it('a line starting with login is secret from right after the word, with or without a space', () => {
    const e = editor({ secretFrom: loginSecretFrom, complete: () => ['login', 'logout'] });
    const token = 'tt1.lock-1.01mjbcx2yxa4x2dzgbhgynkpk2rrdhz5';
    const { echo, events } = feed(e, `login${token}\r`);
    expect(lines(events)).toEqual([`login${token}`]);
    expect(echo).not.toContain('tt1');
    expect(echo).toContain('*'.repeat(token.length));
    // Typed in any case, after spaces, with a stray character: masked, never kept.
    feed(e, `  LOGIN:${token}\r`);
    feed(e, 'login\r');
    expect(e.recalled).toEqual([]);
    // Tab still completes the word itself, but never inside the secret.
    // Editing `login` away does not unmask what was typed after it.
    const edited = feed(e, `login ${token}\x01\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x06\x7f\r`);
    expect(edited.echo).not.toContain('tt1');
    expect(lines(edited.events)).toEqual([token]);
    expect(e.recalled).toEqual([]);
    feed(e, 'login\t');
    expect(e.current).toBe('login ');
    expect(feed(e, '\x15loginx\t').echo).toContain('\x07');
    expect(e.current).toBe('loginx');
  });

  it('consumes OSC, DCS, SOS, PM and APC strings to their BEL or ST; none becomes typed text', () => {
    const e = editor();
    feed(e, 'st');
    feed(e, '\x1b]0;evil title\x07');
    feed(e, '\x1b]52;c;aGVsbG8=\x1b\\');
    feed(e, '\x1bP1$r0m\r\nstatus\x1b\\');
    feed(e, '\x1bXsos\x1b\\\x1b^pm\x07\x1b_apc text\x1b\\');
    feed(e, '\x1b(B\x1b#8\x1bc');
    expect(e.current).toBe('st');
    expect(lines(feed(e, 'atus\r').events)).toEqual(['status']);
    // An unterminated string: Ctrl-C gets out of it (and drops the line), CAN just ends it.
    const { events } = feed(e, 'ab\x1b]never ends\r\x03');
    expect(events).toEqual([{ type: 'interrupt' }]);
    feed(e, '\x1bPdcs\x18ok');
    expect(e.current).toBe('ok');
    // ESC inside a string that is not ST ends it and starts a new sequence.
    feed(e, '\x15\x1b]x\x1b[Cy');
    expect(e.current).toBe('y');
  });

  it('forgets its history when told (the cable was pulled)', () => {
    const e = editor();
    feed(e, 'status\rwhy\r');
    e.forgetHistory();
    feed(e, '\x1b[A');
    expect(e.current).toBe('');
    expect(e.recalled).toEqual([]);
  });

  it('refuses a line over the limit: one bell, no echo of the flood, overflow at the end', () => {
    const e = editor({ maxLength: 256 });
    const { events, echo } = feed(e, `${'x'.repeat(10_000)}\r`);
    expect(events).toEqual([{ type: 'overflow', maxLength: 256 }]);
    expect(echo.length).toBeLessThan(300);
    expect(echo.split('\x07').length - 1).toBe(1);
    expect(e.recalled).toEqual([]);
    expect(lines(feed(e, 'status\r').events)).toEqual(['status']);
  });

  it('Ctrl-U recovers from an overflowing line', () => {
    const e = editor({ maxLength: 8 });
    feed(e, 'aaaaaaaaaaaa\x15status\r');
    expect(e.recalled).toEqual(['status']);
  });

  it('completes with Tab: unique match adds a space, several list the choices', () => {
    const words = ['status', 'selftest', 'codes'];
    const e = editor({ complete: () => words });
    feed(e, 'sta\t');
    expect(e.current).toBe('status ');
    feed(e, '\x15s\t');
    const listing = feed(e, '\t');
    expect(listing.echo).toContain('selftest  status');
    expect(listing.echo).toContain('lock-1> s');
    feed(e, '\x15zz\t');
    expect(e.current).toBe('zz');
  });

  it('Ctrl-L clears the screen and redraws prompt and line', () => {
    const e = editor();
    feed(e, 'why');
    expect(feed(e, '\x0c').echo).toBe('\x1b[2J\x1b[Hlock-1> why');
  });

  it('printAbove prints a message over the line being typed and redraws it', () => {
    const e = editor();
    feed(e, 'sta');
    e.printAbove('session ended');
    expect(e.takeOutput()).toBe('\r\x1b[Ksession ended\r\nlock-1> sta');
  });

  it('checks its options', () => {
    expect(() => new LineEditor({ maxLength: 0 })).toThrow(RangeError);
    expect(() => new LineEditor({ historySize: -1 })).toThrow(/historySize/);
  });

  it('a megabyte of random bytes never throws and leaves a working editor', () => {
    const e = editor();
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 1_000_000; i++) {
      e.step(random());
      if (i % 4096 === 0) e.takeOutput();
    }
    feed(e, '\x03');
    expect(lines(feed(e, 'status\r').events)).toEqual(['status']);
  });
});
