/**
 * The presence port: whether a user has any live connection on any node. Implementations:
 * MemoryPresence and RedisPresence. Last-seen times are durable and live in the Store.
 *
 * Contract: a user is online while at least one connection (any device, any node) is registered
 * and not expired. A node calls `heartbeat` well within the TTL, so a dead node's connections
 * expire one TTL after its last heartbeat (per node or per connection: RedisPresence keeps one
 * liveness key per node, so its heartbeat is O(1)). `connect` / `disconnect` report the user's transition so the caller can announce it;
 * a transition caused by expiry is reported by whichever call first observes it (or never, for
 * a node that died: watchers then learn it on their next `online` query).
 */
import type { UserId } from '@parley/protocol';

export interface Presence {
  /** Register a connection. Resolves true when the user was offline before. */
  connect(user: UserId, connId: string, node: string): Promise<boolean>;
  /** Remove a connection. Resolves true when the user has no connection left anywhere. */
  disconnect(user: UserId, connId: string, node: string): Promise<boolean>;
  /** Which of these users are online now. */
  online(users: readonly UserId[]): Promise<Set<UserId>>;
  /** Keep the node's connections alive (called well within the TTL). */
  heartbeat(node: string, conns: readonly { user: UserId; connId: string }[]): Promise<void>;
  close(): Promise<void>;
}
