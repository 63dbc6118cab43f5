/**
 * An error the API answers with Seam's shape, `{ error: { type, message } }`, and HTTP
 * status. Messages never contain a PIN.
 */
export class SeamApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** The request field at fault, for `validation_errors`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'SeamApiError';
  }
}

/** A 400 naming the field (Seam's `invalid_input`, or a more specific type). */
export class SeamInputError extends SeamApiError {
  constructor(field: string, message: string, type = 'invalid_input') {
    super(400, type, message, field);
    this.name = 'SeamInputError';
  }
}

export const notFound = (
  what: 'device' | 'access_code' | 'action_attempt' | 'event' | 'webhook',
  id: string,
) => new SeamApiError(404, `${what}_not_found`, `${what.replace('_', ' ')} ${JSON.stringify(id)} not found`);
