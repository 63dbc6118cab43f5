/** An error with a stable `code` string, for failures the caller should report, not crash on. */
export class TumblerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TumblerError';
  }
}
