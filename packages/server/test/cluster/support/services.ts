/**
 * The shared PostgreSQL and Redis the cluster tests run against, and a private namespace in each per
 * test file: a fresh schema in database `test` (created and dropped here) and a fresh Redis key
 * prefix (its keys deleted afterwards). The shared servers are never restarted or flushed.
 *
 * Unreachable services skip the file, except with CI=true, where they fail it.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { Redis } from 'ioredis';

export const PG_URL = process.env.PARLEY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probePg(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL unreachable at ${url}: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
}

async function probeRedis(url: string): Promise<string | null> {
  const r = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1000, maxRetriesPerRequest: 0 });
  let cause: Error | undefined;
  r.on('error', (err: Error) => (cause ??= err));
  try {
    await r.connect();
    await r.ping();
    return null;
  } catch (err) {
    return `Redis unreachable at ${url}: ${(cause ?? (err as Error)).message}`;
  } finally {
    r.disconnect();
  }
}

/**
 * False when both services answer (or only those in `need`), else the skip reason. With CI=true a
 * failing test is registered instead, so CI never passes by skipping.
 */
export async function clusterSkip(need: { pg?: boolean; redis?: boolean } = { pg: true, redis: true }): Promise<string | false> {
  const reasons = (await Promise.all([need.pg ? probePg(PG_URL) : null, need.redis ? probeRedis(REDIS_URL) : null])).filter((r): r is string => r !== null);
  if (reasons.length === 0) return false;
  const reason = reasons.join('; ');
  if (process.env.CI === 'true') {
    test('PostgreSQL and Redis are reachable (required when CI=true)', () => {
      throw new Error(reason);
    });
  }
  return reason;
}

/** A schema of its own in the shared database: created now, dropped by `drop()`. */
export async function freshSchema(url = PG_URL): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `parley_cluster_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await c.end();
  }
  return {
    schema,
    async drop() {
      const d = new pg.Client({ connectionString: url });
      d.on('error', () => {});
      await d.connect();
      try {
        await d.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await d.end();
      }
    },
  };
}

/** A key/channel prefix of its own in the shared Redis; `drop()` deletes its keys. */
export function freshPrefix(url = REDIS_URL): { prefix: string; drop(): Promise<void> } {
  const prefix = `test:cluster:${randomBytes(5).toString('hex')}:`;
  return {
    prefix,
    async drop() {
      const r = new Redis(url, { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      try {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          if (keys.length > 0) await r.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    },
  };
}
