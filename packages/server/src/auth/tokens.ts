/**
 * Access tokens: HS256 JWTs carrying the user (`sub`) and the device (`dev`). They are checked
 * without a store read; revocation of a device is checked where a connection or request starts.
 * Refresh tokens are opaque random strings; the store keeps only their SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import { ParleyError, type DeviceId, type UserId } from '@parley/protocol';

export interface Principal {
  user: UserId;
  device: DeviceId;
}

export class TokenIssuer {
  private readonly key: Uint8Array;
  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(p: Principal): Promise<{ token: string; expiresAt: number }> {
    const exp = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const token = await new SignJWT({ dev: p.device }).setProtectedHeader({ alg: 'HS256' }).setSubject(p.user).setIssuedAt().setExpirationTime(exp).sign(this.key);
    return { token, expiresAt: exp * 1000 };
  }

  /** Rejects with UNAUTHORIZED or TOKEN_EXPIRED. */
  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload['dev'] !== 'string') throw new ParleyError('UNAUTHORIZED');
      return { user: payload.sub as UserId, device: payload['dev'] as DeviceId };
    } catch (err) {
      if (err instanceof ParleyError) throw err;
      if (err instanceof errors.JWTExpired) throw new ParleyError('TOKEN_EXPIRED');
      throw new ParleyError('UNAUTHORIZED', 'invalid access token');
    }
  }
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefresh(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
