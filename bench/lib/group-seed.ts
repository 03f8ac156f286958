/**
 * Creates N Parley accounts (one device each) directly in a fresh embedded data directory, before
 * the node starts, and mints their access tokens with the node's own TokenIssuer and secret.
 *
 * Why not `POST /v1/auth/register`: each registration hashes a password with scrypt (~65 ms of CPU
 * here), so 10,000 members would cost ~11 CPU-minutes of setup on a shared 2-core machine. The rows
 * written here are the ones AuthService.register writes (same store port, same id and token
 * formats); all accounts share one password hash, which nothing in the group path reads.
 */
import { join } from 'node:path';
import { TokenIssuer } from '../../packages/server/src/auth/tokens.ts';
import { hashPassword } from '../../packages/server/src/auth/passwords.ts';
import { hashRefresh, newRefreshToken } from '../../packages/server/src/auth/tokens.ts';
import { SqliteStore } from '../../packages/server/src/store/SqliteStore.ts';
import { newDeviceId, newUserId } from '../../packages/server/src/util/ids.ts';

export interface SeededUser {
  user: string;
  handle: string;
  access: string;
}

/** Writes `n` users into `<dataDir>/parley.db` (migrating it first); the node must not run yet. */
export async function seedUsers(dataDir: string, secret: string, n: number, prefix = 'm'): Promise<SeededUser[]> {
  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  const issuer = new TokenIssuer(secret, 24 * 3600);
  try {
    await store.migrate();
    const passwordHash = await hashPassword('bench password');
    const out: SeededUser[] = [];
    const createdAt = Date.now();
    for (let i = 0; i < n; i++) {
      const user = newUserId();
      const device = newDeviceId();
      const handle = `${prefix}${i}`;
      await store.createUser({ id: user, handle, passwordHash, createdAt });
      await store.createDevice({ id: device, user, name: 'bench', refreshHash: hashRefresh(newRefreshToken()), createdAt });
      out.push({ user, handle, access: (await issuer.issue({ user, device })).token });
    }
    return out;
  } finally {
    await store.close();
  }
}
