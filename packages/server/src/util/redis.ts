/** Redis connection helpers shared by the Redis implementations of the ports. */
import { randomBytes } from 'node:crypto';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';

/** A new connection to a URL or options (default 127.0.0.1:6379), with `extra` options on top. */
export function openRedis(target: string | RedisOptions | undefined, extra: RedisOptions): Redis {
  if (typeof target === 'string') return new Redis(target, extra);
  return new Redis({ host: '127.0.0.1', port: 6379, ...target, ...extra });
}

/**
 * The client a port uses: the one given (used, never closed by the port) or a connection of its
 * own (`owned`), whose errors go to `onError` with `context`.
 *
 * Our own connections pipeline automatically: commands issued in one turn of the event loop (say,
 * the route and presence entries of hundreds of clients connecting at once) leave in one write and
 * come back in one read, instead of a syscall pair each. Order on the connection is unchanged.
 */
export function redisFor(
  given: Redis | string | RedisOptions | undefined,
  options: { commandTimeoutMs?: number; onError?: (err: unknown, context: string) => void },
  context: string,
): { client: Redis; owned: boolean } {
  if (given instanceof Redis) return { client: given, owned: false };
  const client = openRedis(given, { commandTimeout: options.commandTimeoutMs ?? 2000, enableAutoPipelining: true });
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

/**
 * Lua prelude for scripts that keep per-user entries tagged with the incarnation of the node that
 * wrote them (see NodeLiveness). `live(node, inc)` is true while `<nodePrefix><node>` holds `inc`;
 * answers are cached for the script's run. `nodePrefix` must be set by the script first.
 *
 * The node keys are read by name, not passed in KEYS: fine for a single Redis (and its replicas),
 * not for Redis Cluster, where they would have to share a hash slot with the user's key.
 */
export const LIVE_LUA = `
local nodePrefix = ''
local liveCache = {}
local function live(node, inc)
  local v = liveCache[node]
  if v == nil then
    v = redis.call('GET', nodePrefix .. node) or false
    liveCache[node] = v
  end
  return v == inc
end
`;

/**
 * Lua, after LIVE_LUA: with KEYS[2] this node's liveness key, ARGV[2] its incarnation, ARGV[3] the
 * TTL (ms) and ARGV[5] the key prefix, takes the key if it is not ours and sets `missing` to 1 then
 * (the caller re-adds its other entries, which died with the key).
 */
export const CLAIM_LIVENESS_LUA = `
nodePrefix = ARGV[5]
local missing = 0
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  missing = 1
end
`;

/** Entries refreshed per pipeline by the heartbeat passes. */
export const PIPELINE_CHUNK = 256;

/**
 * Liveness per node instead of per entry. A node's entries (routes, presence connections) are
 * live while its key `<nodePrefix><node>` exists and holds the incarnation that wrote them: a
 * random id per process, so the entries of a previous process with the same node id (a restarted
 * worker keeps its id) are dead the moment the new one takes the key. The heartbeat sets that one
 * key with a TTL: O(1) per node however many users it holds. When the node dies, the key expires
 * and with it, at once, every entry it wrote; scripts that meet dead entries delete them.
 *
 * Two things remain per entry, both rare:
 * - Recovery: when the heartbeat finds the key gone or not ours (Redis lost its data, or this node
 *   stalled past the TTL and others pruned its entries meanwhile), it re-adds all of them.
 * - Memory: entries of a dead node that nobody meets again would stay forever, so every user key
 *   carries an expiry of `gcMs` (default 120 × TTL), pushed back when written and by a slow pass
 *   that rewrites 1/30 of the node's entries per heartbeat (each entry every ~30 heartbeats, well
 *   within 120 TTLs since heartbeats come well within one TTL).
 */
export class NodeLiveness {
  private readonly incs = new Map<string, string>();
  /** Nodes whose key was found missing (by a write): their next heartbeat re-adds everything. */
  private readonly lost = new Set<string>();
  private readonly gcCursor = new Map<string, number>();

  constructor(
    readonly nodePrefix: string,
    readonly ttlMs: number,
    readonly gcMs: number,
  ) {}

  /** This process's incarnation of `node`. */
  inc(node: string): string {
    let inc = this.incs.get(node);
    if (!inc) this.incs.set(node, (inc = randomBytes(6).toString('base64url')));
    return inc;
  }

  nodeKey(node: string): string {
    return this.nodePrefix + node;
  }

  /** A write found the node key missing or another incarnation's: re-add everything next beat. */
  markLost(node: string): void {
    this.lost.add(node);
  }

  /**
   * Refresh the node key; returns the entries to (re)write this beat: all of them after a loss,
   * else the next slice of the slow expiry pass.
   */
  async beat<T>(redis: Redis, node: string, entries: readonly T[]): Promise<readonly T[]> {
    const inc = this.inc(node);
    const had = await redis.set(this.nodeKey(node), inc, 'PX', this.ttlMs, 'GET');
    if (had !== inc || this.lost.has(node)) {
      this.lost.delete(node);
      return entries;
    }
    if (entries.length === 0) return entries;
    const slice = Math.ceil(entries.length / 30);
    let at = this.gcCursor.get(node) ?? 0;
    if (at >= entries.length) at = 0;
    this.gcCursor.set(node, at + slice);
    return entries.slice(at, at + slice);
  }
}
