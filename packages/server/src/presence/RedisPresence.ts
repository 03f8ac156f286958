/**
 * Presence on Redis: a user's connections across all nodes, each with a TTL.
 *
 * Layout: per user a sorted set `<prefix>presence:<user>` whose members are connections, encoded
 * as the JSON array `[node, connId]` (unambiguous whatever characters ids contain), each scored by
 * its expiry time in ms. A connection is live while its score is > now; the user is online while
 * it has a live connection. The key carries a PEXPIREAT one TTL after its latest member's expiry,
 * so the users of a node that died disappear, yet a late `disconnect` (say, of a connection whose
 * node missed a heartbeat during a stall) still finds its expired member and reports the offline
 * transition instead of silently finding nothing.
 *
 * `connect` and `disconnect` are single Lua scripts, hence atomic: of two nodes connecting the same
 * offline user at once exactly one sees "was offline", and of two last disconnects exactly one sees
 * "now offline". Time comes from Redis (`TIME`), so node clock skew cannot disagree on expiry.
 *
 * Transitions caused by expiry (the Presence contract): the write scripts first delete expired
 * members. `connect` reports online when nothing live was left. `disconnect` reports offline when
 * nothing live is left AND it removed something (the connection itself, or expired ones): so the
 * call that first observes an expiry reports it, and a later call finding an already empty set
 * does not report it a second time. `online` only reads, so it never swallows a transition. Once
 * the key itself has expired (every connection dead for over one TTL) nobody reports the
 * transition: the contract's "or never" case; watchers see it in `online`.
 *
 * `heartbeat` re-adds connections rather than only extending existing ones, so presence heals by
 * itself after a Redis outage longer than the TTL. The price: a heartbeat built just before a
 * `disconnect` can resurrect that connection for at most one TTL (no transition is reported for it).
 */
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import type { UserId } from '@parley/protocol';
import { execAll, redisFor } from '../util/redis.ts';
import type { Presence } from './Presence.ts';

export interface RedisPresenceOptions {
  /**
   * A client to share (not closed by `close`), or where to connect (a URL or ioredis options) with
   * a connection of our own. Default: our own connection to 127.0.0.1:6379.
   */
  redis?: Redis | string | RedisOptions;
  /** Key prefix, so deployments (and tests) sharing a Redis stay apart. Default 'parley:'. */
  prefix?: string;
  /** Lifetime of a connection without heartbeat. Heartbeat well within it. Default 30000. */
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

/** Let the key expire one TTL (ARGV[2]) after its latest member: the grace for late observers. */
const EXPIRE_AFTER_LAST = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + tonumber(ARGV[2]))`;

/** KEYS[1] set, ARGV[1] member, ARGV[2] ttl ms. Returns 1 when no live connection was there before. */
const CONNECT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_AFTER_LAST}
if before == 0 then return 1 end
return 0`;

/** KEYS[1] set, ARGV[1] member. Returns 1 when this call leaves the user with no live connection. */
const DISCONNECT = `${NOW}
local pruned = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
if pruned + removed > 0 then return 1 end
return 0`;

/** KEYS[1] set, ARGV[1] member, ARGV[2] ttl ms. (Re)adds the member with a fresh expiry. */
const REFRESH = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${EXPIRE_AFTER_LAST}
return 1`;

/** KEYS[1] set. Number of live connections; read-only. */
const LIVE_COUNT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

interface Scripts {
  parleyPresenceConnect(key: string, member: string, ttlMs: number): Promise<number>;
  parleyPresenceDisconnect(key: string, member: string): Promise<number>;
}
type ScriptPipeline = ChainableCommander & {
  parleyPresenceRefresh(key: string, member: string, ttlMs: number): ChainableCommander;
  parleyPresenceLiveCount(key: string): ChainableCommander;
};

export class RedisPresence implements Presence {
  private readonly redis: Redis & Scripts;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisPresenceOptions = {}) {
    this.prefix = options.prefix ?? 'parley:';
    this.ttlMs = options.ttlMs ?? 30000;
    const { client, owned } = redisFor(options.redis, options, 'redis presence connection');
    this.owned = owned;
    // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
    client.defineCommand('parleyPresenceConnect', { numberOfKeys: 1, lua: CONNECT });
    client.defineCommand('parleyPresenceDisconnect', { numberOfKeys: 1, lua: DISCONNECT });
    client.defineCommand('parleyPresenceRefresh', { numberOfKeys: 1, lua: REFRESH });
    client.defineCommand('parleyPresenceLiveCount', { numberOfKeys: 1, lua: LIVE_COUNT });
    this.redis = client as Redis & Scripts;
  }

  async connect(user: UserId, connId: string, node: string): Promise<boolean> {
    const wasOffline = await this.redis.parleyPresenceConnect(
      this.key(user),
      member(node, connId),
      this.ttlMs,
    );
    return wasOffline === 1;
  }

  async disconnect(user: UserId, connId: string, node: string): Promise<boolean> {
    const nowOffline = await this.redis.parleyPresenceDisconnect(this.key(user), member(node, connId));
    return nowOffline === 1;
  }

  async online(users: readonly UserId[]): Promise<Set<UserId>> {
    const out = new Set<UserId>();
    if (users.length === 0) return out;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (const user of users) pipeline.parleyPresenceLiveCount(this.key(user));
    const counts = await execAll(pipeline);
    users.forEach((user, i) => {
      if (Number(counts[i]) > 0) out.add(user);
    });
    return out;
  }

  async heartbeat(node: string, conns: readonly { user: UserId; connId: string }[]): Promise<void> {
    if (conns.length === 0) return;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (const { user, connId } of conns) {
      pipeline.parleyPresenceRefresh(this.key(user), member(node, connId), this.ttlMs);
    }
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
    return `${this.prefix}presence:${user}`;
  }
}

function member(node: string, connId: string): string {
  return JSON.stringify([node, connId]);
}

