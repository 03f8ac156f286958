/** Access token verification (node:crypto HS256): what is accepted and what is refused, with which code. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { ParleyError, type DeviceId, type UserId } from '@parley/protocol';
import { TokenIssuer } from '../../src/auth/tokens.ts';

const secret = 'tokens-test-secret';
const key = new TextEncoder().encode(secret);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A token signed by hand, so headers and claims can be anything. */
function handMade(header: unknown, payload: unknown, withSecret = secret): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', withSecret).update(body).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ParleyError, `a ParleyError, got ${String(err)}`);
    return err.code;
  }
  return 'accepted';
}

describe('TokenIssuer.verify', () => {
  const issuer = new TokenIssuer(secret, 3600);

  it('accepts its own tokens and tokens jose signs with the same key', async () => {
    const { token } = await issuer.issue({ user: 'u_1' as UserId, device: 'd_1' as DeviceId });
    assert.deepEqual(await issuer.verify(token), { user: 'u_1', device: 'd_1' });
    const byJose = await new SignJWT({ dev: 'd_2' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('u_2').setIssuedAt().setExpirationTime('1h').sign(key);
    assert.deepEqual(issuer.verifySync(byJose), { user: 'u_2', device: 'd_2' });
  });

  it('refuses forged, tampered, malformed and other-algorithm tokens with UNAUTHORIZED', async () => {
    const { token } = await issuer.issue({ user: 'u_1' as UserId, device: 'd_1' as DeviceId });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = { sub: 'u_1', dev: 'd_1', exp: now() + 60 };
    const refused = [
      handMade({ alg: 'HS256' }, claims, 'another secret'),
      `${h}.${b64({ ...claims, sub: 'u_admin' })}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      'not a token',
      '',
      handMade({ alg: 'none' }, claims).split('.').slice(0, 2).join('.') + '.',
      handMade({ alg: 'HS512' }, claims),
      handMade({ alg: 'HS256', crit: ['b64'] }, claims),
      handMade({ alg: 'HS256' }, { sub: 'u_1', dev: 'd_1' }), // no exp: never issued by us
      handMade({ alg: 'HS256' }, { ...claims, nbf: now() + 600 }),
      handMade({ alg: 'HS256' }, { ...claims, exp: String(now() + 60) }),
      handMade({ alg: 'HS256' }, { ...claims, iat: 'yesterday' }),
      handMade({ alg: 'HS256' }, { ...claims, dev: 7 }),
      handMade({ alg: 'HS256' }, [1, 2]),
      `${b64({ alg: 'HS256' })}.not-json.${s}`,
    ];
    for (const t of refused) assert.equal(code(() => issuer.verifySync(t)), 'UNAUTHORIZED', t);
    await assert.rejects(issuer.verify(refused[0]!), (e: unknown) => e instanceof ParleyError && e.code === 'UNAUTHORIZED');
  });

  it('refuses an expired token with TOKEN_EXPIRED', () => {
    assert.equal(code(() => issuer.verifySync(handMade({ alg: 'HS256' }, { sub: 'u', dev: 'd', exp: now() - 1 }))), 'TOKEN_EXPIRED');
    assert.equal(code(() => issuer.verifySync(handMade({ alg: 'HS256' }, { sub: 'u', dev: 'd', exp: now() + 5, nbf: now() - 5 }))), 'accepted');
  });
});
