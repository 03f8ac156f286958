/**
 * The routing port: which nodes hold connections of which users. Implementations: MemoryRouter (one
 * process) and RedisRouter.
 *
 * Contract: entries are per (user, node) and live only as long as their node: a node calls
 * `heartbeat` well within the TTL, so the entries of a node that died expire by themselves (one
 * TTL after its last heartbeat). Implementations may make the heartbeat O(1) per node (Redis
 * does: node-level liveness) or refresh every entry. The
 * answer may be stale in both directions (a node listed that no longer holds the user, or one missed
 * for an instant): it only steers live pushes, never correctness, which comes from the store's logs.
 */
import type { UserId } from '@parley/protocol';

export interface Router {
  /** This node now holds at least one connection of `user`. */
  attach(user: UserId, node: string): Promise<void>;
  /** This node holds no more connections of `user`. */
  detach(user: UserId, node: string): Promise<void>;
  /** Nodes holding connections of each user; users with none are absent from the map. */
  nodesOf(users: readonly UserId[]): Promise<Map<UserId, string[]>>;
  /** Refresh the TTL of every entry of `node` (the users it currently holds). */
  heartbeat(node: string, users: readonly UserId[]): Promise<void>;
  close(): Promise<void>;
}
