/**
 * Access tokens: HS256 JWTs carrying the user (`sub`) and the device (`dev`). They are checked
 * without a store read; revocation of a device is checked where a connection or request starts.
 * Refresh tokens are opaque random strings; the store keeps only their SHA-256.
 *
 * Verification is done here with node:crypto, synchronously, against a key object made once: it
 * runs on every connect, and jose's WebCrypto path imported the key and hopped through a crypto
 * job per call (~7 % of a worker's CPU while 6,000 clients connected, see docs/benchmarks.md
 * "density"). Issuing stays with jose (rare: login, refresh). What is accepted is what jose
 * accepted before, `exp` now required: header `alg` HS256 (nothing else, no `none`), a valid signature, a numeric
 * `exp` in the future (required: we never issue a token without one), a numeric `nbf` (if
 * present) not in the future, a numeric `iat` if present, string `sub` and `dev`.
 */
import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { ParleyError, type Cursor, type DeviceId, type UserId } from '@parley/protocol';

export interface Principal {
  user: UserId;
  device: DeviceId;
  /**
   * The device's acked cursor as read by `AuthService.authenticate` (absent when the principal did
   * not come from there). A session starting without a client cursor resumes from it, so it need
   * not read the device row a second time; acks only move forward, so a value a few ms old can only
   * make it resend events the device already has, which the cursor makes harmless.
   */
  acked?: Cursor;
}

const invalid = () => new ParleyError('UNAUTHORIZED', 'invalid access token');

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export class TokenIssuer {
  private readonly key: Uint8Array;
  private readonly hmacKey: KeyObject;
  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
    this.hmacKey = createSecretKey(Buffer.from(this.key));
  }

  async issue(p: Principal): Promise<{ token: string; expiresAt: number }> {
    const exp = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const token = await new SignJWT({ dev: p.device }).setProtectedHeader({ alg: 'HS256' }).setSubject(p.user).setIssuedAt().setExpirationTime(exp).sign(this.key);
    return { token, expiresAt: exp * 1000 };
  }

  /** Rejects with UNAUTHORIZED or TOKEN_EXPIRED. */
  async verify(token: string): Promise<Principal> {
    return this.verifySync(token);
  }

  /** The same check, synchronously: throws ParleyError UNAUTHORIZED or TOKEN_EXPIRED. */
  verifySync(token: string): Principal {
    if (typeof token !== 'string' || token.length > 8192) throw invalid();
    const dot1 = token.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf('.', dot2 + 1) !== -1) throw invalid();
    const header = decodeJson(token.slice(0, dot1));
    if (!header || header['alg'] !== 'HS256' || ('crit' in header && header['crit'] !== undefined)) throw invalid();
    const given = Buffer.from(token.slice(dot2 + 1), 'base64url');
    const expected = createHmac('sha256', this.hmacKey).update(token.slice(0, dot2)).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    const payload = decodeJson(token.slice(dot1 + 1, dot2));
    if (!payload) throw invalid();
    const now = Math.floor(Date.now() / 1000);
    const { exp, nbf, iat, sub, dev } = payload;
    if (iat !== undefined && typeof iat !== 'number') throw invalid();
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) throw invalid();
    // Every token we issue expires; one without `exp` was not made by us.
    if (typeof exp !== 'number') throw invalid();
    if (exp <= now) throw new ParleyError('TOKEN_EXPIRED');
    if (typeof sub !== 'string' || typeof dev !== 'string') throw new ParleyError('UNAUTHORIZED');
    return { user: sub as UserId, device: dev as DeviceId };
  }
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashRefresh(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
