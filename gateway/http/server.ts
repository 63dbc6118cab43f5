import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../../firmware/log.ts';
import { SeamApiError, SeamInputError } from '../seam/errors.ts';
import type { SeamGateway } from '../seam/runtime.ts';
import { authenticate } from './auth.ts';
import { registerClientSessionRoutes } from './client-session-routes.ts';
import { builtConsole, isConsolePath, registerConsole } from './console.ts';
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

  // The console's static files need no key (the page signs in through the API); every
  // API route needs an API key, a client session token or, to make sessions, a publishable key.
  // Decide on the route Fastify matched, not the raw URL: the router percent-decodes, so
  // `/%77ebhooks/list` reaches /webhooks/list and must be judged as that route.
  app.addHook('onRequest', async (request) => {
    const path = request.routeOptions.url ?? request.url.split('?')[0]!;
    if (!isConsolePath(path)) await authenticate(gateway.store, request, path);
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
  registerClientSessionRoutes(app, gateway.store);
  registerConsole(app, builtConsole());
  return app;
}
