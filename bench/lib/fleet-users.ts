/**
 * Users for the density and storm benches, many and fast, without a bench-only server path: the
 * bench creates each user and its device through the server's own Store port (the same rows
 * `register` writes), before the server starts, and mints each device's access token with the
 * server's TokenIssuer and the token secret it then gives the server (PARLEY_TOKEN_SECRET). What it
 * skips is the per-user scrypt of `register` (~50 ms of CPU each): every bench user shares one
 * precomputed password hash. Every connection is still a distinct user with its own device, and the
 * server authenticates each one as usual (token signature + device row).
 */
import { TokenIssuer } from '../../packages/server/src/auth/tokens.ts';
import { hashPassword } from '../../packages/server/src/auth/passwords.ts';
import type { Store } from '../../packages/server/src/store/Store.ts';
import { newDeviceId, newUserId } from '../../packages/server/src/util/ids.ts';
import type { DeviceId, UserId } from '@parley/protocol';

export interface BenchUser {
  user: UserId;
  device: DeviceId;
  handle: string;
  token: string;
}

export async function seedUsers(store: Store, n: number, tag: string, secret: string, ttlSeconds = 6 * 3600): Promise<BenchUser[]> {
  const passwordHash = await hashPassword('bench password');
  const issuer = new TokenIssuer(secret, ttlSeconds);
  const out: BenchUser[] = [];
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const user = newUserId();
    const device = newDeviceId();
    const handle = `${tag}${i}`;
    await store.createUser({ id: user, handle, passwordHash, createdAt: now });
    await store.createDevice({ id: device, user, name: 'bench', refreshHash: '', createdAt: now });
    out.push({ user, device, handle, token: (await issuer.issue({ user, device })).token });
  }
  return out;
}
