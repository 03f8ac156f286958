import type { FastifyRequest } from 'fastify';

/** The access token of a request: `Authorization: Bearer`, else the `token` query parameter. */
export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  const q = (req.query as Record<string, unknown> | undefined)?.['token'];
  return typeof q === 'string' ? q : null;
}
