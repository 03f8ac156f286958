/** `GET /metrics`: the node's registry in Prometheus text format. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './Metrics.ts';

export function metricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await metrics.render();
    void reply.header('content-type', contentType);
    return body;
  });
}
