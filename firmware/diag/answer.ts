import { safeJson, safeText } from '../safe-text.ts';

/**
 * What a console command answers, and how it looks on the wire. Plain mode: lines of
 * text; an error is one line starting `error: `. JSON mode: one JSON object a line,
 * `{"ok":true,"command":"status",...}` or `{"ok":false,"command":...,"error":CODE,"message":...}`.
 * lockdiag and other tools rely on exactly these two shapes.
 */

export interface Answer {
  ok: boolean;
  /** Plain-mode text, one entry a line. */
  lines: string[];
  /** JSON-mode fields beside ok and command. */
  data: Record<string, unknown>;
  error?: { code: string; message: string };
}

/** An expected refusal inside a command (bad argument, not logged in...): becomes an error answer. */
export class DiagError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DiagError';
  }
}

export function ok(lines: string | string[], data: Record<string, unknown> = {}): Answer {
  return { ok: true, lines: typeof lines === 'string' ? [lines] : lines, data };
}

export function fail(code: string, message: string, data: Record<string, unknown> = {}): Answer {
  return { ok: false, lines: [], data, error: { code, message } };
}

export const ERROR_PREFIX = 'error: ';

/** One line of plain text, safe to print: control characters become `?`. */
export { safeText };

const jsonLine = safeJson;

/** The answer as sent: CRLF line endings, ready for the wire. */
export function renderAnswer(answer: Answer, command: string, json: boolean): string {
  if (json) {
    const body = answer.ok
      ? { ok: true, command, ...answer.data }
      : { ok: false, command, error: answer.error!.code, message: answer.error!.message, ...answer.data };
    return `${jsonLine(body)}\r\n`;
  }
  const lines = answer.ok ? answer.lines : [...answer.lines, `${ERROR_PREFIX}${answer.error!.message}`];
  return lines.map((line) => `${safeText(line)}\r\n`).join('');
}

/** A streamed line (keypad test keys): plain text, or one JSON object. */
export function renderEvent(line: string, data: Record<string, unknown>, json: boolean): string {
  return json ? `${jsonLine({ ok: true, ...data })}\r\n` : `${safeText(line)}\r\n`;
}
