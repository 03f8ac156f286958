/**
 * Router on Redis: which nodes hold connections of which users, with per-entry TTLs.
 *
 * Layout: per user a sorted set `<prefix>route:<user>` whose members are node ids, each scored by
 * its expiry time in ms. An entry is live while its score is > now. The key itself carries a
 * PEXPIREAT at its latest member's expiry, so the users of a node that died vanish entirely.
 *
 * Time comes from Redis (`TIME` inside small Lua scripts), never from the node's clock: every
 * node then agrees on what has expired, whatever the skew between their clocks.
 *
 * `heartbeat` re-adds entries rather than only extending existing ones, so a node's routes come
 * back by themselves after a Redis outage longer than the TTL. The price is a race: a heartbeat
 * built just before a `detach` can resurrect that entry for one TTL. The Router contract allows
 * stale answers (they only steer live pushes), so self-healing wins.
 */
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import type { UserId } from '@parley/protocol';
import { execAll, redisFor } from '../util/redis.ts';
import type { Router } from './Router.ts';

export interface RedisRouterOptions {
  /**
   * A client to share (not closed by `close`), or where to connect (a URL or ioredis options) with
   * a connection of our own. Default: our own connection to 127.0.0.1:6379.
   */
  redis?: Redis | string | RedisOptions;
  /** Key prefix, so deployments (and tests) sharing a Redis stay apart. Default 'parley:'. */
  prefix?: string;
  /** Lifetime of an entry without heartbeat. Heartbeat well within it (e.g. every ttl/3). Default 30000. */
  ttlMs?: number;
  /** For our own connection: a command fails after this long instead of waiting out an outage. Default 2000. */
  commandTimeoutMs?: number;
  /** Connection errors of our own connection (ioredis would otherwise print them). */
  onError?: (err: unknown, context: string) => void;
}

/** Redis server time in ms, as a Lua prelude shared by the scripts. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS[1] route set, ARGV[1] node, ARGV[2] ttl ms. Drops expired entries, (re)adds the node with a
 * fresh expiry, and lets the key expire with its latest entry.
 */
const REFRESH = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])))
return 1`;

/** KEYS[1] route set. The live (unexpired) node ids; read-only. */
const LIVE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

interface Scripts {
  parleyRouteRefresh(key: string, node: string, ttlMs: number): Promise<number>;
}
type ScriptPipeline = ChainableCommander & {
  parleyRouteRefresh(key: string, node: string, ttlMs: number): ChainableCommander;
  parleyRouteLive(key: string): ChainableCommander;
};

export class RedisRouter implements Router {
  private readonly redis: Redis & Scripts;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisRouterOptions = {}) {
    this.prefix = options.prefix ?? 'parley:';
    this.ttlMs = options.ttlMs ?? 30000;
    const { client, owned } = redisFor(options.redis, options, 'redis router connection');
    this.owned = owned;
    // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
    client.defineCommand('parleyRouteRefresh', { numberOfKeys: 1, lua: REFRESH });
    client.defineCommand('parleyRouteLive', { numberOfKeys: 1, lua: LIVE });
    this.redis = client as Redis & Scripts;
  }

  async attach(user: UserId, node: string): Promise<void> {
    await this.redis.parleyRouteRefresh(this.key(user), node, this.ttlMs);
  }

  async detach(user: UserId, node: string): Promise<void> {
    await this.redis.zrem(this.key(user), node);
  }

  async nodesOf(users: readonly UserId[]): Promise<Map<UserId, string[]>> {
    const out = new Map<UserId, string[]>();
    if (users.length === 0) return out;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (const user of users) pipeline.parleyRouteLive(this.key(user));
    const results = await execAll(pipeline);
    users.forEach((user, i) => {
      const nodes = results[i] as string[];
      if (nodes.length > 0) out.set(user, nodes);
    });
    return out;
  }

  async heartbeat(node: string, users: readonly UserId[]): Promise<void> {
    if (users.length === 0) return;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (const user of users) pipeline.parleyRouteRefresh(this.key(user), node, this.ttlMs);
    await execAll(pipeline);
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    this.redis.disconnect();
  }

  private key(user: UserId): string {
    return `${this.prefix}route:${user}`;
  }
}

