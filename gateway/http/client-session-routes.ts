import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  DEFAULT_SESSION_MS,
  issueClientSession,
  MAX_SESSION_MS,
  toSeamClientSession,
  toSeamConnectedAccount,
} from '../seam/client-sessions.ts';
import { SeamApiError, SeamInputError } from '../seam/errors.ts';
import type { SeamStore } from '../seam/store.ts';
import { principalOf } from './auth.ts';
import { parseInput } from './inputs.ts';

/** Strict, like every input: connected_account_ids, user_identity_id and friends are a 400 naming them. */
const sessionInput = z.strictObject({
  user_identifier_key: z.string().min(1, 'must not be empty').max(200, 'at most 200 characters').optional(),
  expires_at: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T15:00:00Z' })
    .optional(),
});
const sessionGetInput = z.strictObject({});
const connectedAccountGetInput = z.strictObject({
  connected_account_id: z.uuid({ message: 'must be a UUID' }),
});

/**
 * `client_sessions/get_or_create|create|get` (the console's sign-in, docs/console.md) and
 * `connected_accounts/get` (the gateway's one connected account).
 */
export function registerClientSessionRoutes(app: FastifyInstance, store: SeamStore): void {
  const issue = async (request: FastifyRequest, reuse: boolean) => {
    const principal = principalOf(request);
    if (principal.kind === 'client_session')
      throw new SeamApiError(403, 'forbidden', 'a client session cannot make client sessions');
    const input = parseInput(sessionInput, request.body);
    const now = Date.now();
    let expiresAt = now + DEFAULT_SESSION_MS;
    if (input.expires_at !== undefined) {
      expiresAt = Date.parse(input.expires_at);
      if (expiresAt <= now) throw new SeamInputError('expires_at', 'expires_at: must be in the future');
      if (expiresAt > now + MAX_SESSION_MS)
        throw new SeamInputError('expires_at', 'expires_at: at most 90 days from now');
    }
    if (principal.kind === 'publishable_key' && input.user_identifier_key === undefined)
      throw new SeamInputError('user_identifier_key', 'user_identifier_key: required with a publishable key');
    const session = await issueClientSession(
      store.sql,
      {
        issuerKeyId: principal.keyId,
        userIdentifierKey: input.user_identifier_key ?? null,
        expiresAt,
        reuse,
      },
      now,
    );
    return { client_session: await toSeamClientSession(store, session), ok: true };
  };
  app.post('/client_sessions/get_or_create', (request) => issue(request, true));
  app.route({
    method: ['POST', 'PUT'],
    url: '/client_sessions/create',
    handler: (request) => issue(request, false),
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/client_sessions/get',
    handler: async (request) => {
      const principal = principalOf(request);
      if (principal.kind !== 'client_session')
        throw new SeamInputError(
          'client_session_id',
          'client_session_id: only a client session gets itself here (the gateway keeps no token to show an API key; use client_sessions/create)',
        );
      parseInput(sessionGetInput, request.method === 'GET' ? { ...(request.query as object) } : request.body);
      return { client_session: await toSeamClientSession(store, principal.session), ok: true };
    },
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/connected_accounts/get',
    handler: async (request) => {
      const input = parseInput(
        connectedAccountGetInput,
        request.method === 'GET' ? { ...(request.query as object) } : request.body,
      );
      if (input.connected_account_id !== store.workspace.connectedAccountId)
        throw new SeamApiError(
          404,
          'connected_account_not_found',
          `connected account ${JSON.stringify(input.connected_account_id)} not found`,
        );
      return { connected_account: toSeamConnectedAccount(store), ok: true };
    },
  });
}
