/** Redis connection helpers shared by the Redis implementations of the ports. */
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';

/** A new connection to a URL or options (default 127.0.0.1:6379), with `extra` options on top. */
export function openRedis(target: string | RedisOptions | undefined, extra: RedisOptions): Redis {
  if (typeof target === 'string') return new Redis(target, extra);
  return new Redis({ host: '127.0.0.1', port: 6379, ...target, ...extra });
}

/**
 * The client a port uses: the one given (used, never closed by the port) or a connection of its
 * own (`owned`), whose errors go to `onError` with `context`.
 */
export function redisFor(
  given: Redis | string | RedisOptions | undefined,
  options: { commandTimeoutMs?: number; onError?: (err: unknown, context: string) => void },
  context: string,
): { client: Redis; owned: boolean } {
  if (given instanceof Redis) return { client: given, owned: false };
  const client = openRedis(given, { commandTimeout: options.commandTimeoutMs ?? 2000 });
  const onError = options.onError ?? (() => {});
  client.on('error', (err: unknown) => onError(err, context));
  return { client, owned: true };
}

/** Runs a pipeline and returns its replies, throwing the first per-command error. */
export async function execAll(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}
