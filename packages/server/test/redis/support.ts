/**
 * Shared helpers for the tests against a real Redis (REDIS_URL, default redis://127.0.0.1:6379).
 * Every test works under its own random key/channel prefix and deletes its keys afterwards, so
 * runs never see each other's data. The shared Redis server itself is never stopped or flushed.
 */
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import type { UserId } from '@parley/protocol';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Resolves to false when Redis answers, else to a skip reason. In CI (`CI=true`) an unreachable
 * Redis is a failure, not a skip: a failing test is registered and the rest are skipped.
 */
export async function redisSkip(): Promise<string | false> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    retryStrategy: () => null,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
  });
  let cause: Error | undefined; // the socket error (e.g. ECONNREFUSED), more telling than the rejection
  probe.on('error', (err: Error) => (cause ??= err));
  try {
    await probe.connect();
    await probe.ping();
    return false;
  } catch (err) {
    const reason = `Redis unreachable at ${REDIS_URL}: ${(cause ?? (err as Error)).message}`;
    if (process.env.CI === 'true') {
      test('Redis is reachable (required when CI=true)', () => {
        throw new Error(reason);
      });
    }
    return reason;
  } finally {
    probe.disconnect();
  }
}

/** A fresh prefix for one test, e.g. `test:1f0c…:`. */
export function uniquePrefix(): string {
  return `test:${randomUUID()}:`;
}

/** A plain client for inspecting Redis from tests. */
export function adminClient(): Redis {
  const client = new Redis(REDIS_URL);
  client.on('error', () => {});
  return client;
}

/** Deletes every key under the prefix. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export function user(id: string): UserId {
  return id as UserId;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true, failing after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
