import type { FastifyRequest } from 'fastify';
import { activeKeyId } from '../seam/api-keys.ts';
import { type ClientSession, clientSessionOf } from '../seam/client-sessions.ts';
import { SeamApiError } from '../seam/errors.ts';
import type { SeamStore } from '../seam/store.ts';

/** Who is calling, as the credentials of the request say. */
export type Principal =
  | { kind: 'api_key'; keyId: string }
  | { kind: 'publishable_key'; keyId: string }
  | { kind: 'client_session'; session: ClientSession };

/** The routes a publishable key opens: it buys client sessions and nothing else. */
const PUBLISHABLE_KEY_ROUTES = new Set(['/client_sessions/get_or_create', '/client_sessions/create']);

/**
 * Routes a client session may not call: those whose security in Seam's OpenAPI
 * (`@seamapi/types`) does not list `client_session`.
 */
const closedToClientSessions = (path: string): boolean =>
  path.startsWith('/webhooks/') ||
  path === '/client_sessions/create' ||
  path === '/client_sessions/get_or_create' ||
  path === '/action_attempts/list' ||
  path === '/locks/simulate/keypad_code_entry';

const principals = new WeakMap<FastifyRequest, Principal>();

/** The principal `authenticate` found for this request (every route past the hook has one). */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error('request was not authenticated');
  return principal;
}

const unauthorized = (message: string) => new SeamApiError(401, 'unauthorized', message);

/**
 * Reads the request's credentials the way Seam's clients send them: `Authorization:
 * Bearer <api key>`; `Authorization: Bearer seam_cst_...` for a client session (the SDK
 * adds a `client-session-token` header with the same token); or `seam-publishable-key`
 * alone. Throws a 401 (or a 403 for a route the credential does not open); never names
 * the key in the message.
 */
export async function authenticate(store: SeamStore, request: FastifyRequest, path: string): Promise<void> {
  const publishable = request.headers['seam-publishable-key'];
  const header = request.headers.authorization;
  let principal: Principal | null = null;
  if (header === undefined && typeof publishable === 'string') {
    const keyId = await activeKeyId(store.sql, publishable, 'publishable_key');
    if (keyId === null) throw unauthorized('the publishable key is not valid or was revoked');
    if (!PUBLISHABLE_KEY_ROUTES.has(path))
      throw new SeamApiError(403, 'forbidden', `a publishable key opens only client sessions, not ${path}`);
    principal = { kind: 'publishable_key', keyId };
  } else {
    const match = /^Bearer (\S+)$/.exec(header ?? '');
    if (!match) throw unauthorized('an API key is required (Authorization: Bearer seam_...)');
    const token = match[1]!;
    if (token.startsWith('seam_cst')) {
      const session = await clientSessionOf(store.sql, token);
      if (!session)
        throw unauthorized('the client session token is not valid, expired, or its key was revoked');
      if (closedToClientSessions(path))
        throw new SeamApiError(403, 'forbidden', `a client session cannot call ${path} (API keys only)`);
      principal = { kind: 'client_session', session };
    } else {
      const keyId = await activeKeyId(store.sql, token, 'api_key');
      if (keyId === null) throw unauthorized('the API key is not valid or was revoked');
      principal = { kind: 'api_key', keyId };
    }
  }
  principals.set(request, principal);
}
