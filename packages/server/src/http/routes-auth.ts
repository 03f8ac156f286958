/** POST /v1/auth/{register,login,refresh,logout}: the only endpoints that take no access token. */
import type { FastifyInstance } from 'fastify';
import { LoginBody, RefreshBody, RegisterBody, type Tokens } from '@parley/protocol';
import type { AuthService } from '../auth/AuthService.ts';
import { bearer } from './bearer.ts';

export function authRoutes(app: FastifyInstance, auth: AuthService): void {
  app.post<{ Body: RegisterBody }>('/v1/auth/register', { schema: { body: RegisterBody } }, async (req, reply): Promise<Tokens> => {
    reply.code(201);
    return auth.register(req.body.handle, req.body.password, req.body.device);
  });
  app.post<{ Body: RegisterBody }>('/v1/auth/login', { schema: { body: LoginBody } }, async (req) => auth.login(req.body.handle, req.body.password, req.body.device));
  app.post<{ Body: RefreshBody }>('/v1/auth/refresh', { schema: { body: RefreshBody } }, async (req) => auth.refresh(req.body.refresh));
  app.post('/v1/auth/logout', async (req, reply) => {
    const p = await auth.authenticate(bearer(req));
    await auth.logout(p);
    reply.code(204);
    return null;
  });
}
