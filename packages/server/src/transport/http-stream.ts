/**
 * What the HTTP transports (SSE, long polling) share: how a request names its resume cursor, how it
 * is refused, and what they need from the node. Both hand the request to `reply.hijack()` once it is
 * authenticated, because from then on the response's lifetime belongs to a Session (minutes for
 * SSE, up to the hold time for a poll), not to Fastify's reply cycle: the transport alone writes
 * the head and the body, and a client that goes away is one `close` event on the raw response,
 * turned into exactly one `onClose` of the Transport. Errors before that point (bad token, bad
 * cursor, draining) are ordinary Fastify errors, answered with the JSON error body of the catalogue.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ParleyError, type Cursor } from '@parley/protocol';
import type { Logger } from 'pino';
import type { AuthService } from '../auth/AuthService.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Session } from '../session/Session.ts';
import type { Transport } from '../session/Transport.ts';

/** What an HTTP transport needs from the node. */
export interface HttpStreamDeps {
  auth: AuthService;
  /** `ParleyNode.openSession`: starts a Session on the transport, resuming after `from`. */
  openSession(p: Principal, transport: Transport, from: Cursor | null): Promise<Session>;
  /** False while the node drains: new streams and polls are refused with 503 DRAINING. */
  accepting(): boolean;
  log: Logger;
}

/** A non-negative integer from a query parameter or header; `null` when absent, INVALID when garbage. */
export function parseCount(raw: unknown, name: string): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const n = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new ParleyError('INVALID', `${name} must be a non-negative integer`);
  return n;
}

export function query(req: FastifyRequest): Record<string, unknown> {
  return (req.query as Record<string, unknown> | undefined) ?? {};
}

export function refuseWhileDraining(deps: HttpStreamDeps): void {
  if (!deps.accepting()) throw new ParleyError('DRAINING');
}

/** True when the client is already gone (it may leave while we authenticate). */
export function clientGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed;
}
