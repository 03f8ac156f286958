/**
 * Choosing port implementations from configuration: PostgreSQL when a database URL is given, Redis
 * for broker, routing and presence when a Redis URL is given; the embedded ones otherwise.
 */
import type { Logger } from 'pino';
import { RedisBroker } from './broker/RedisBroker.ts';
import type { NodePorts } from './node.ts';
import { RedisPresence } from './presence/RedisPresence.ts';
import { RedisRouter } from './routing/RedisRouter.ts';
import { PostgresStore } from './store/PostgresStore.ts';
import { PostgresWorkerStore } from './store/PostgresWorkerStore.ts';

export interface ClusterConfig {
  /** PARLEY_DATABASE_URL, e.g. postgres://user@host:5432/db */
  databaseUrl?: string;
  /** PARLEY_DATABASE_SCHEMA: a schema to keep Parley's tables in (default: the search_path). */
  databaseSchema?: string;
  /**
   * PARLEY_DATABASE_THREAD: '1' runs the PostgreSQL client in a worker thread
   * (PostgresWorkerStore), '0' on the event loop.
   */
  databaseThread?: boolean;
  /** PARLEY_REDIS_URL, e.g. redis://127.0.0.1:6379 */
  redisUrl?: string;
  /** PARLEY_REDIS_PREFIX: key and channel prefix, so several clusters can share one Redis. */
  redisPrefix?: string;
}

export function configFromEnv(env: NodeJS.ProcessEnv): ClusterConfig {
  const c: ClusterConfig = {};
  if (env['PARLEY_DATABASE_URL']) c.databaseUrl = env['PARLEY_DATABASE_URL'];
  if (env['PARLEY_DATABASE_SCHEMA']) c.databaseSchema = env['PARLEY_DATABASE_SCHEMA'];
  if (env['PARLEY_DATABASE_THREAD']) c.databaseThread = env['PARLEY_DATABASE_THREAD'] === '1';
  if (env['PARLEY_REDIS_URL']) c.redisUrl = env['PARLEY_REDIS_URL'];
  if (env['PARLEY_REDIS_PREFIX']) c.redisPrefix = env['PARLEY_REDIS_PREFIX'];
  return c;
}

export function portsFor(config: ClusterConfig, logger: Logger): NodePorts {
  const ports: NodePorts = { logger };
  const onError = (component: string) => (err: unknown, context?: string) => logger.warn({ err, component, context }, 'backing service error');
  if (config.databaseUrl) {
    const pg = { connectionString: config.databaseUrl, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) };
    ports.store = config.databaseThread ? new PostgresWorkerStore(pg) : new PostgresStore(pg);
  }
  if (config.redisUrl) {
    const prefix = config.redisPrefix ?? 'parley:';
    ports.broker = new RedisBroker({ redis: config.redisUrl, prefix, onError: onError('broker') });
    ports.router = new RedisRouter({ redis: config.redisUrl, prefix, onError: onError('router') });
    ports.presence = new RedisPresence({ redis: config.redisUrl, prefix, onError: onError('presence') });
  }
  return ports;
}
