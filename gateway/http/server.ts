import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../../firmware/log.ts';
import { verifyApiKey } from '../seam/api-keys.ts';
import { SeamApiError, SeamInputError } from '../seam/errors.ts';
import type { SeamGateway } from '../seam/runtime.ts';
import { registerRoutes } from './routes.ts';

/** Seam's error body; `validation_errors` (one entry, the field at fault) as Seam's clients read it. */
function errorBody(error: SeamApiError) {
  return {
    error: {
      type: error.type,
      message: error.message,
      ...(error.field ? { validation_errors: { [error.field]: { _errors: [error.message] } } } : {}),
    },
  };
}

/**
 * The Seam Connect HTTP API for this gateway: `POST /<resource>/<action>`, JSON bodies,
 * `Authorization: Bearer <api key>`. Requests are logged by method, path, status and
 * duration only: never a body (it may hold a PIN) nor a key.
 */
export function buildServer(gateway: SeamGateway, log?: Logger): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });

  // Empty bodies are an empty parameter object; anything else must be a JSON object.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    const source = String(text).trim();
    if (source === '') return done(null, {});
    try {
      done(null, JSON.parse(source));
    } catch {
      done(new SeamInputError('body', 'body: not valid JSON'), undefined);
    }
  });
  // Form bodies carry strings only: good for string parameters; others get a 400 naming them.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, text, done) => done(null, Object.fromEntries(new URLSearchParams(String(text)))),
  );

  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match || !verifyApiKey(gateway.store.db, match[1]!)) {
      const message = match
        ? 'the API key is not valid or was revoked'
        : 'an API key is required (Authorization: Bearer seam_...)';
      await reply.code(401).send({ error: { type: 'unauthorized', message } });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    log?.info('request', {
      method: request.method,
      path: request.routeOptions.url ?? request.url.split('?')[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
  });

  app.setErrorHandler((error: FastifyError | SeamApiError, request, reply) => {
    if (error instanceof SeamApiError) return reply.code(error.status).send(errorBody(error));
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: { type: 'invalid_input', message: error.message } });
    }
    log?.error('request failed', { path: request.url.split('?')[0], error: error.message });
    return reply.code(500).send({ error: { type: 'internal_server_error', message: 'internal error' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { type: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );

  registerRoutes(app, gateway);
  return app;
}
