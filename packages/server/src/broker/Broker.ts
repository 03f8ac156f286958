/**
 * The broker port: small notices between nodes. Implementations: MemoryBroker (one process) and
 * RedisBroker (pub/sub).
 *
 * Contract: delivery is AT-MOST-ONCE and unordered across topics. A notice may be lost while a node
 * or Redis blinks. Nothing may depend on a notice arriving: logged events are always recoverable
 * from the store by cursor (a session that sees a gap reads the store), and ephemeral notices
 * (typing, presence) are allowed to be lost. Within one topic, notices from one publisher arrive in
 * publish order when they arrive.
 *
 * Handlers are called synchronously in arrival order; a handler that throws is logged and skipped.
 */
import type { CallFrame, ConversationId, CursorEvent, DeviceId, UserId } from '@parley/protocol';

export type Notice =
  /** Events were appended to `user`'s log: push them to the user's local sessions. */
  | { type: 'events'; user: UserId; events: CursorEvent[] }
  /** Ephemeral typing indication for recipient `user`. */
  | { type: 'typing'; user: UserId; conv: ConversationId; from: UserId; on: boolean }
  /** `user` went online or offline (published on that user's presence topic). */
  | { type: 'presence'; user: UserId; online: boolean; lastSeen: number | null }
  /** The device was logged out: close its connections. */
  | { type: 'revoke'; user: UserId; device: DeviceId }
  /** Ephemeral call signal (ringing, accepted, ...) for recipient `user`'s devices. */
  | { type: 'call'; user: UserId; frame: CallFrame }
  /**
   * Several of the above for one node's users, in order (a group message's fan-out is one
   * publish per node, not one per member). Never nested.
   */
  | { type: 'batch'; notices: UserNotice[] };

/** A notice addressed to one user. */
export type UserNotice = Exclude<Notice, { type: 'batch' }>;

export type NoticeHandler = (notice: Notice) => void;

/** Topic names, in one place so every implementation and caller agree. */
export const Topics = {
  /** Notices addressed to the users whose connections a node holds. */
  node: (nodeId: string) => `node.${nodeId}`,
  /** Presence changes of one user, for the nodes whose sessions watch that user. */
  presence: (user: UserId) => `presence.${user}`,
} as const;

export interface Broker {
  publish(topic: string, notice: Notice): Promise<void>;
  /** Resolves once the subscription is active; the returned function removes this handler. */
  subscribe(topic: string, handler: NoticeHandler): Promise<() => Promise<void>>;
  /**
   * `handler` runs each time the broker's link was re-established after a loss (not on the first
   * connect). Notices published in between may be lost: the caller resynchronises from the store.
   */
  onReconnect(handler: () => void): void;
  close(): Promise<void>;
}
