/**
 * The HTTP surface on Fastify: health, auth, commands over POST, and whatever routes other
 * transports add. Fastify is chosen for its speed, its first-class TypeScript types and TypeBox
 * schemas, `inject()` for socket-free tests, and its long record of maintenance.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { toParleyError, errorBody } from './errors.ts';

export interface AppOptions {
  logger: Logger;
  bodyLimit: number;
  ready: () => boolean;
  node: string;
}

export function createApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit,
    // Keep-alive long enough for long polls that hold ~25 s.
    keepAliveTimeout: 65_000,
    // On close, end every connection (held polls, idle keep-alives), not only idle ones: a drain must finish.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } },
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toParleyError(err);
    if (e.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    void reply.code(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ t: 'err', id: null, code: 'NOT_FOUND', msg: 'no such endpoint' });
  });

  app.get('/healthz', async (_req, reply) => {
    const ready = opts.ready();
    reply.code(ready ? 200 : 503);
    return { ok: ready, node: opts.node };
  });
  return app;
}
