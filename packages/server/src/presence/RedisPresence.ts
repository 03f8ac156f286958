/**
 * Presence on Redis: a user's connections across all nodes.
 *
 * Layout: per user a hash `<prefix>conns:<user>`, field = the connection encoded as the JSON array
 * `[node, connId]` (unambiguous whatever characters ids contain), value = the incarnation of the
 * node process that wrote it. A connection is live while its node's liveness key
 * `<prefix>presence-node:<node>` holds that incarnation (util/redis.ts NodeLiveness): the node's
 * heartbeat refreshes that one key, O(1) however many connections it holds, and when the node
 * dies, every connection it held dies with the key one TTL later. The user is online while it has
 * a live connection. User keys expire `gcMs` after they were last written, so the entries of a
 * dead node that nobody observes again do not stay in Redis forever.
 *
 * `connect` and `disconnect` are single Lua scripts, hence atomic: of two nodes connecting the same
 * offline user at once exactly one sees "was offline", and of two last disconnects exactly one sees
 * "now offline". Liveness is a key's TTL in Redis, so node clocks cannot disagree on it.
 *
 * Transitions caused by expiry (the Presence contract): the write scripts first delete dead
 * connections. `connect` reports online when nothing live was left. `disconnect` reports offline
 * when nothing live is left AND it removed something (the connection itself, or dead ones): so the
 * call that first observes a death reports it, and a later call finding an already empty hash does
 * not report it a second time. `online` only reads, so it never swallows a transition. A late
 * `disconnect` of a connection whose node missed its heartbeats still finds its (dead) entry and
 * reports the offline transition. Once the user's key itself has expired (`gcMs`) nobody reports
 * the transition: the contract's "or never" case; watchers see it in `online`.
 *
 * Self-healing: when a heartbeat finds the node's liveness key missing (a Redis outage lost it, or
 * the node stalled past the TTL and others pruned its connections), it re-adds all of them. The
 * price: a re-add racing with a `disconnect` can resurrect that connection (no transition is
 * reported for it) until the user's next disconnect or the node's death.
 */
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import type { UserId } from '@parley/protocol';
import { CLAIM_LIVENESS_LUA, execAll, LIVE_LUA, NodeLiveness, PIPELINE_CHUNK, redisFor } from '../util/redis.ts';
import type { Presence } from './Presence.ts';

export interface RedisPresenceOptions {
  /**
   * A client to share (not closed by `close`), or where to connect (a URL or ioredis options) with
   * a connection of our own. Default: our own connection to 127.0.0.1:6379.
   */
  redis?: Redis | string | RedisOptions;
  /** Key prefix, so deployments (and tests) sharing a Redis stay apart. Default 'parley:'. */
  prefix?: string;
  /** Lifetime of a node's connections without heartbeat. Heartbeat well within it. Default 30000. */
  ttlMs?: number;
  /** Expiry of a user's key after it was last written (garbage of dead nodes). Default 120 × ttlMs. */
  gcMs?: number;
  /** For our own connection: a command fails after this long instead of waiting out an outage. Default 2000. */
  commandTimeoutMs?: number;
  /** Connection errors of our own connection (ioredis would otherwise print them). */
  onError?: (err: unknown, context: string) => void;
}

/** The node id of a field `[node, connId]`. */
const NODE_OF = `
local function nodeOf(field)
  local ok, v = pcall(cjson.decode, field)
  if ok and type(v) == 'table' and type(v[1]) == 'string' then return v[1] end
  return ''
end
`;

/**
 * KEYS[1] conns hash, KEYS[2] this node's liveness key. ARGV[1] member, ARGV[2] incarnation,
 * ARGV[3] ttl ms, ARGV[4] gc ms, ARGV[5] liveness key prefix. Returns { 1 when no live connection
 * was there before, 1 when the liveness key was not ours (the caller re-adds its others) }.
 */
const CONNECT = `${LIVE_LUA}${NODE_OF}${CLAIM_LIVENESS_LUA}local before = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if live(nodeOf(all[i]), all[i + 1]) then before = before + 1 else redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local was = 0
if before == 0 then was = 1 end
return { was, missing }`;

/** KEYS[1] conns hash, ARGV[1] member, ARGV[2] liveness key prefix. 1 when this call leaves the user with no live connection. */
const DISCONNECT = `${LIVE_LUA}${NODE_OF}
nodePrefix = ARGV[2]
local pruned = 0
local remaining = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] then
    if live(nodeOf(all[i]), all[i + 1]) then remaining = remaining + 1
    else
      redis.call('HDEL', KEYS[1], all[i])
      pruned = pruned + 1
    end
  end
end
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if remaining > 0 then return 0 end
if pruned + removed > 0 then return 1 end
return 0`;

/** KEYS[1] conns hash, ARGV[1] liveness key prefix. Number of live connections; read-only. */
const LIVE_COUNT = `${LIVE_LUA}${NODE_OF}
nodePrefix = ARGV[1]
local n = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if live(nodeOf(all[i]), all[i + 1]) then n = n + 1 end
end
return n`;

interface Scripts {
  parleyPresenceConnect(key: string, nodeKey: string, member: string, inc: string, ttlMs: number, gcMs: number, nodePrefix: string): Promise<[number, number]>;
  parleyPresenceDisconnect(key: string, member: string, nodePrefix: string): Promise<number>;
}
type ScriptPipeline = ChainableCommander & {
  parleyPresenceConnect(key: string, nodeKey: string, member: string, inc: string, ttlMs: number, gcMs: number, nodePrefix: string): ChainableCommander;
  parleyPresenceLiveCount(key: string, nodePrefix: string): ChainableCommander;
};

export class RedisPresence implements Presence {
  private readonly redis: Redis & Scripts;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly liveness: NodeLiveness;

  constructor(options: RedisPresenceOptions = {}) {
    this.prefix = options.prefix ?? 'parley:';
    const ttlMs = options.ttlMs ?? 30000;
    this.liveness = new NodeLiveness(`${this.prefix}presence-node:`, ttlMs, options.gcMs ?? ttlMs * 120);
    const { client, owned } = redisFor(options.redis, options, 'redis presence connection');
    this.owned = owned;
    // defineCommand sends EVALSHA and falls back to EVAL when the script is not cached yet.
    client.defineCommand('parleyPresenceConnect', { numberOfKeys: 2, lua: CONNECT });
    client.defineCommand('parleyPresenceDisconnect', { numberOfKeys: 1, lua: DISCONNECT });
    client.defineCommand('parleyPresenceLiveCount', { numberOfKeys: 1, lua: LIVE_COUNT });
    this.redis = client as Redis & Scripts;
  }

  async connect(user: UserId, connId: string, node: string): Promise<boolean> {
    const l = this.liveness;
    const [wasOffline, missing] = await this.redis.parleyPresenceConnect(this.key(user), l.nodeKey(node), member(node, connId), l.inc(node), l.ttlMs, l.gcMs, l.nodePrefix);
    if (missing === 1) l.markLost(node);
    return wasOffline === 1;
  }

  async disconnect(user: UserId, connId: string, node: string): Promise<boolean> {
    const nowOffline = await this.redis.parleyPresenceDisconnect(this.key(user), member(node, connId), this.liveness.nodePrefix);
    return nowOffline === 1;
  }

  async online(users: readonly UserId[]): Promise<Set<UserId>> {
    const out = new Set<UserId>();
    if (users.length === 0) return out;
    const pipeline = this.redis.pipeline() as ScriptPipeline;
    for (const user of users) pipeline.parleyPresenceLiveCount(this.key(user), this.liveness.nodePrefix);
    const counts = await execAll(pipeline);
    users.forEach((user, i) => {
      if (Number(counts[i]) > 0) out.add(user);
    });
    return out;
  }

  /** O(1): the node's liveness key; plus a slice of the slow expiry pass, or everything after a loss. */
  async heartbeat(node: string, conns: readonly { user: UserId; connId: string }[]): Promise<void> {
    const l = this.liveness;
    const rewrite = await l.beat(this.redis, node, conns);
    const inc = l.inc(node);
    for (let i = 0; i < rewrite.length; i += PIPELINE_CHUNK) {
      const pipeline = this.redis.pipeline() as ScriptPipeline;
      for (let j = i; j < Math.min(rewrite.length, i + PIPELINE_CHUNK); j++) {
        const { user, connId } = rewrite[j]!;
        pipeline.parleyPresenceConnect(this.key(user), l.nodeKey(node), member(node, connId), inc, l.ttlMs, l.gcMs, l.nodePrefix);
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
    return `${this.prefix}conns:${user}`;
  }
}

function member(node: string, connId: string): string {
  return JSON.stringify([node, connId]);
}
