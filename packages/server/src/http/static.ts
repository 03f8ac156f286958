/**
 * The web app (packages/web, built by Vite) served at `/`.
 *
 * - Files under the build directory are served as they are; Vite's hashed `/assets/*` are cached for
 *   a year (their names change with their content), everything else is revalidated.
 * - Any other GET that is not an API path (`/v1/...`, `/healthz`, `/metrics`) and does not look like
 *   a file (no dot in its last segment) gets `index.html`: the SPA fallback, so a deep link or a
 *   reload on a client-side route works.
 * - When the app was not built, those GETs answer 503 with a page that says how to build it; the API
 *   is unaffected. The check is made per request, so building while the node runs is enough.
 *
 * The build directory is `PARLEY_WEB_DIR` when set (tests build into a temporary directory), else
 * `packages/web/dist`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface WebAppOptions {
  /** Absolute path of the built app. */
  root?: string;
}

const API_PREFIXES = ['/v1', '/healthz', '/metrics'];

function defaultRoot(): string {
  const fromEnv = process.env['PARLEY_WEB_DIR'];
  if (fromEnv) return fromEnv;
  return fileURLToPath(new URL('../../../web/dist/', import.meta.url));
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley: web app not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:.1rem .3rem;border-radius:3px}</style>
</head><body>
<h1>The Parley web app has not been built</h1>
<p>The server is running and its API works, but there is no built web app to serve.</p>
<p>Build it with <code>npm run build</code> (or start with <code>npm start</code>, which builds it first),
then reload this page.</p>
</body></html>
`;

function isApiPath(path: string): boolean {
  return API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

export function webAppRoutes(app: FastifyInstance, options: WebAppOptions = {}): void {
  const root = options.root ?? defaultRoot();
  const index = join(root, 'index.html');
  // `serve: false`: only the reply.sendFile decorator; routing is ours, for the fallback and the 503.
  void app.register(fastifyStatic, { root, serve: false, suppressWarning: true });

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const raw = req.raw.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    if (isApiPath(path)) {
      reply.callNotFound();
      return reply;
    }
    if (!existsSync(index)) {
      return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT);
    }
    const last = path.slice(path.lastIndexOf('/') + 1);
    if (last.includes('.') && path !== '/index.html') {
      // A file: served if it exists, 404 otherwise (a missing script must not turn into HTML).
      const immutable = path.startsWith('/assets/');
      return reply.sendFile(path.slice(1), immutable ? { maxAge: '365d', immutable: true } : { maxAge: 0 });
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };
  app.route({ method: ['GET', 'HEAD'], url: '/', handler });
  app.route({ method: ['GET', 'HEAD'], url: '/*', handler });
}
