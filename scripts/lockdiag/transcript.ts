/**
 * Reading the console's answers back: what lockdiag (and tests) need to know about
 * the wire format of firmware/diag. An answer is everything between the echo of the
 * command line and the next prompt (`<device id>> `, or `<device id># ` logged in).
 */

/** A prompt at the very end of the received text. */
const PROMPT_AT_END = /(?:^|\n)[A-Za-z0-9_-]{1,64}[>#] $/;
/** VT100 sequences the line editor sends while echoing (cursor moves, erase to end of line). */
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|.)/g;

export function endsWithPrompt(text: string): boolean {
  return PROMPT_AT_END.test(text);
}

/** The received text after sending one command: its answer lines (echo, prompt and escapes removed). */
export function answerLines(transcript: string): string[] {
  const echoEnd = transcript.indexOf('\r\n');
  if (echoEnd < 0) return [];
  const body = transcript
    .slice(echoEnd + 2)
    .replace(PROMPT_AT_END, (match) => (match.startsWith('\n') ? '\n' : ''));
  return body
    .split(/\r?\n/)
    .map((line) => line.replace(ESCAPES, '').replace(/\r/g, '').replace(/\x07/g, ''))
    .filter((line, index, lines) => !(index === lines.length - 1 && line === ''));
}

/** Whether the answer is an error: a line `error: ...` in plain mode, `"ok":false` in JSON mode. */
export function isErrorAnswer(lines: string[]): boolean {
  return lines.some((line) => {
    if (line.startsWith('error: ')) return true;
    if (!line.startsWith('{')) return false;
    try {
      return (JSON.parse(line) as { ok?: unknown }).ok === false;
    } catch {
      return false;
    }
  });
}
