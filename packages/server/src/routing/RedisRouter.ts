/**
 * Router on Redis: which nodes hold connections of which users.
 *
 * Layout: per user a hash `<prefix>routes:<user>`, field = node id, value = the incarnation of that
 * node's process that wrote it. An entry is live while the node's liveness key
 * `<prefix>route-node:<node>` holds that incarnation (util/redis.ts NodeLiveness): the heartbeat
 * refreshes that one key, so it costs O(1) per node, and when a node dies all its entries die with
 * its key, one TTL later. Scripts that meet dead entries (attach, nodesOf) delete them; user keys
 * also expire `gcMs` after they were last written, so a dead node's entries that nobody meets
 * again do not stay in Redis forever.
 *
 * Liveness is decided by Redis alone (a key's TTL), never by the node's clock.
 *
 * Self-healing: when a heartbeat finds the liveness key missing (Redis lost its data, or the node
 * stalled past the TTL and others pruned its entries), it re-adds every entry of the node. The
 * Router contract allows stale answers (they only steer live pushes), so a detach racing with
 * such a re-add, which can resurrect an entry until the user's next attach/detach or the node's
 * death, is acceptable.
 */
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import type { UserId } from '@parley/protocol';
import { CLAIM_LIVENESS_LUA, execAll, LIVE_LUA, NodeLiveness, PIPELINE_CHUNK, redisFor } from '../util/redis.ts';
import type { Router } from './Router.ts';

export interface RedisRouterOptions {
  /**
   * A client to share (not closed by `close`), or where to connect (a URL or ioredis options) with
   * a connection of our own. Default: our own connection to 127.0.0.1:6379.
   */
  redis?: Redis | string | RedisOptions;
  /** Key prefix, so deployments (and tests) sharing a Redis stay apart. Default 'parley:'. */
  prefix?: string;
  /** Lifetime of a node's entries without heartbeat. Heartbeat well within it (e.g. every ttl/3). Default 30000. */
  ttlMs?: number;
  /** Expiry of a user's key after it was last written (garbage of dead nodes). Default 120 × ttlMs. */
  gcMs?: number;
  /** For our own connection: a command fails after this long instead of waiting out an outage. Default 2000. */
  commandTimeoutMs?: number;
  /** Connection errors of our own connection (ioredis would otherwise print them). */
  onError?: (err: unknown, context: string) => void;
}

/**
 * KEYS[1] routes hash, KEYS[2] this node's liveness key. ARGV[1] node, ARGV[2] incarnation,
 * ARGV[3] ttl ms, ARGV[4] gc ms, ARGV[5] liveness key prefix. Takes the liveness key if it is not
 * ours (returns 1 then: the caller re-adds its other entries), drops dead entries of other nodes,
 * writes ours and pushes the key's expiry back.
 */
const ATTACH = `${LIVE_LUA}${CLAIM_LIVENESS_LUA}local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] and not live(all[i], all[i + 1]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return missing`;

/**
 * KEYS: routes hashes, ARGV[1] liveness key prefix. Per key, the live node ids; dead entries are
 * deleted. One call for many users: a large group's fan-out asks for ~1,000 at once, and a script
 * call per user cost ~10 ms a message (each with its own liveness lookups); here the liveness
 * answers are shared by every key of the call.
 */
const LIVE_MANY = `${LIVE_LUA}
nodePrefix = ARGV[1]
local res = {}
for k = 1, #KEYS do
  local out = {}
  local all = redis.call('HGETALL', KEYS[k])
  for i = 1, #all, 2 do
    if live(all[i], all[i + 1]) then out[#out + 1] = all[i] else redis.call('HDEL', KEYS[k], all[i]) end
  end
  res[k] = out
end
return res`;

/** Users per LIVE_MANY call (one call holds Redis for well under a millisecond). */
const LIVE_CHUNK = 512;

interface Scripts {
  parleyRouteAttach(key: string, nodeKey: string, node: string, inc: string, ttlMs: number, gcMs: number, nodePrefix: string): Promise<number>;
}
type ScriptPipeline = ChainableCommander & {
  parleyRouteAttach(key: string, nodeKey: string, node: string, inc: string, ttlMs: number, gcMs: number, nodePrefix: string): ChainableCommander;
  parleyRoutesLive(numKeys: number, ...keysThenPrefix: string[]): ChainableCommander;
};

export class RedisRouter implements Router {
  private readonly redis: Redis & Scripts;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly liveness: NodeLiveness;

  constructor(options: RedisRouterOptions = {}) {
    this.prefix = options.prefix ?? 'parley:';
    const ttlMs = options.ttlMs ?? 30000;
    this.liveness = new NodeLiveness(`${this.prefix}route-node:`, ttlMs, options.gcMs ?? ttlMs * 120);
    const { client, owned } = redisFor(options.redis, options, 'redis router connection');
    this.owned = owned;
    // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
    client.defineCommand('parleyRouteAttach', { numberOfKeys: 2, lua: ATTACH });
    client.defineCommand('parleyRoutesLive', { lua: LIVE_MANY });
    this.redis = client as Redis & Scripts;
  }

  async attach(user: UserId, node: string): Promise<void> {
    const l = this.liveness;
    const missing = await this.redis.parleyRouteAttach(this.key(user), l.nodeKey(node), node, l.inc(node), l.ttlMs, l.gcMs, l.nodePrefix);
    if (missing === 1) l.markLost(node);
  }

  async detach(user: UserId, node: string): Promise<void> {
    await this.redis.hdel(this.key(user), node);
  }

  async nodesOf(users: readonly UserId[]): Promise<Map<UserId, string[]>> {
    const out = new Map<UserId, string[]>();
    if (users.length === 0) return out;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (let i = 0; i < users.length; i += LIVE_CHUNK) {
      const keys = users.slice(i, i + LIVE_CHUNK).map((u) => this.key(u));
      pipeline.parleyRoutesLive(keys.length, ...keys, this.liveness.nodePrefix);
    }
    const results = (await execAll(pipeline)) as string[][][];
    users.forEach((user, i) => {
      const nodes = results[Math.floor(i / LIVE_CHUNK)]![i % LIVE_CHUNK]!;
      if (nodes.length > 0) out.set(user, nodes);
    });
    return out;
  }

  /** O(1): the node's liveness key; plus a slice of the slow expiry pass, or everything after a loss. */
  async heartbeat(node: string, users: readonly UserId[]): Promise<void> {
    const l = this.liveness;
    const rewrite = await l.beat(this.redis, node, users);
    const inc = l.inc(node);
    for (let i = 0; i < rewrite.length; i += PIPELINE_CHUNK) {
      const pipeline = this.redis.pipeline() as ScriptPipeline;
      for (let j = i; j < Math.min(rewrite.length, i + PIPELINE_CHUNK); j++) {
        pipeline.parleyRouteAttach(this.key(rewrite[j]!), l.nodeKey(node), node, inc, l.ttlMs, l.gcMs, l.nodePrefix);
      }
      await execAll(pipeline);
    }
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
    return `${this.prefix}routes:${user}`;
  }
}
