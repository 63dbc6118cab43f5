import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:console` puts the console: beside its source, seen from gateway/http or dist/gateway/http. */
const CANDIDATES = ['../console/dist/', '../../../gateway/console/dist/'].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);

export const CONSOLE_NOT_BUILT =
  'the console is not built: run `npm run build:console` in the Tumbler checkout, then restart lockctl serve';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/**
 * Everything the page loads comes from the gateway: the browser is told so, and refuses
 * anything else (a component's default image or stylesheet on a CDN, say).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The built console's files by URL path under /console/, or null when it was not built. */
export function builtConsole(): Map<string, string> | null {
  const dir = CANDIDATES.find((candidate) => existsSync(join(candidate, 'index.html')));
  if (!dir) return null;
  return new Map(listFiles(dir).map((file) => [relative(dir, file).split('\\').join('/'), file]));
}

export const isConsolePath = (path: string): boolean => path === '/console' || path.startsWith('/console/');

/**
 * Serves the console at /console (docs/console.md): the static files Vite built, as
 * listed when the server started (after a rebuild, restart lockctl serve). No
 * credentials here: the page signs in through the API.
 */
export function registerConsole(app: FastifyInstance, files: Map<string, string> | null): void {
  const send = (reply: FastifyReply, name: string) => {
    const file = files?.get(name);
    if (!file || !existsSync(file))
      return reply.code(404).type('text/plain; charset=utf-8').send(`no console file ${name}\n`);
    return reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header(
        'cache-control',
        name.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      )
      .type(TYPES[extname(name)] ?? 'application/octet-stream')
      .send(readFileSync(file));
  };
  app.get('/console', (_request, reply) => reply.redirect('/console/'));
  app.get('/console/*', (request, reply) => {
    if (!files) return reply.code(503).type('text/plain; charset=utf-8').send(`${CONSOLE_NOT_BUILT}\n`);
    const name = (request.params as { '*': string })['*'];
    return send(reply, name === '' ? 'index.html' : name);
  });
}
