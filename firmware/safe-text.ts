/**
 * Text from the store (code names, audit details) printed to a terminal: it must never
 * drive the terminal. One rule for the CLI and the serial console.
 */

/** C0 and C1 controls, DEL, line and paragraph separators, bidi embeddings and isolates. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Whether `text` holds a character that would act on a terminal rather than print. */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

/** One line of plain text, safe to print: control characters become `?`. */
export function safeText(text: string): string {
  return text.replace(CONTROL, '?');
}

/**
 * JSON.stringify, with the controls it leaves raw (DEL, C1, U+2028/2029, bidi) written
 * as \u escapes: the same JSON value, safe on a terminal.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
