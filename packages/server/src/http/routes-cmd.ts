/**
 * POST /v1/cmd: any command over plain HTTP (what SSE and long-polling clients use to talk back).
 * The body is one command frame, or an array of them run in order; the answer is the matching
 * `res`/`err` frame (or array). A command without `id` still gets its frame here, since HTTP
 * always answers. Presence subscriptions and acks apply to the device's live streams on this node.
 */
import type { FastifyInstance } from 'fastify';
import { ParleyError, validateCommand, type ErrorFrame, type ResultFrame } from '@parley/protocol';
import type { AuthService } from '../auth/AuthService.ts';
import type { Commands, SessionLink } from '../chat/Commands.ts';
import type { Principal } from '../auth/tokens.ts';
import { bearer } from './bearer.ts';
import { errorBody, toParleyError } from './errors.ts';

export interface CmdRouteDeps {
  auth: AuthService;
  commands: Commands;
  /** The device's live streams on this node (SSE sessions), for acks and presence watches. */
  linksOf: (p: Principal) => SessionLink[];
  maxBatch: number;
}

export function cmdRoutes(app: FastifyInstance, deps: CmdRouteDeps): void {
  const runOne = async (p: Principal, raw: unknown): Promise<ResultFrame | ErrorFrame> => {
    const decoded = validateCommand(raw);
    if (!decoded.ok) return errorBody(decoded.error, decoded.id);
    const id = decoded.cmd.id ?? null;
    try {
      const data = await deps.commands.execute(p, decoded.cmd, deps.linksOf(p));
      return { t: 'res', id, data };
    } catch (err) {
      if (!(err instanceof ParleyError)) app.log.error({ err }, 'command failed');
      return errorBody(toParleyError(err), id);
    }
  };

  app.post('/v1/cmd', async (req, reply) => {
    const p = await deps.auth.authenticate(bearer(req));
    const body = req.body;
    if (Array.isArray(body)) {
      if (body.length > deps.maxBatch) throw new ParleyError('TOO_LARGE', `at most ${deps.maxBatch} commands per request`);
      const out: (ResultFrame | ErrorFrame)[] = [];
      for (const raw of body) out.push(await runOne(p, raw));
      return out;
    }
    const frame = await runOne(p, body);
    if (frame.t === 'err') reply.code(new ParleyError(frame.code).status);
    return frame;
  });
}
