/**
 * Live delivery after a commit: tells each recipient's nodes (as the Router knows them) about the
 * events just appended to the recipient's log. At-most-once like the broker under it; a notice that
 * is lost is recovered by the recipient session's cursor gap check or by the next resume.
 * Notices for this node's own sessions skip the broker: they go straight to `local` (in order,
 * synchronously, as the in-process broker would), so a one-node cluster or a conversation whose
 * members share a node pays no Redis publish and no subscriber round trip for them.
 */
import type { CallFrame, ConversationId, DeviceId, UserId } from '@parley/protocol';
import { Topics, type Broker, type Notice, type UserNotice } from '../broker/Broker.ts';
import type { Router } from '../routing/Router.ts';
import type { Appended } from '../store/Store.ts';

/** This node: its id as the router names it, and the hand-off to its own sessions. */
export interface LocalNode {
  readonly id: string;
  deliver(notice: Notice): void;
}

export class Delivery {
  constructor(
    private readonly broker: Broker,
    private readonly router: Router,
    private readonly onError: (err: unknown) => void,
    private readonly local: LocalNode | null = null,
  ) {}

  /** One publish per node: its users' notices travel together (a lone one as itself). */
  private async toUsers(users: readonly UserId[], notice: (user: UserId) => UserNotice): Promise<void> {
    if (users.length === 0) return;
    const nodes = await this.router.nodesOf(users);
    const perNode = new Map<string, UserNotice[]>();
    for (const [user, list] of nodes) {
      const n = notice(user);
      for (const node of list) {
        const batch = perNode.get(node);
        if (batch) batch.push(n);
        else perNode.set(node, [n]);
      }
    }
    const sends: Promise<void>[] = [];
    for (const [node, notices] of perNode) {
      const n: Notice = notices.length === 1 ? notices[0]! : { type: 'batch', notices };
      if (node === this.local?.id) {
        try {
          this.local.deliver(n);
        } catch (err) {
          this.onError(err);
        }
      } else sends.push(this.broker.publish(Topics.node(node), n));
    }
    const results = await Promise.allSettled(sends);
    for (const r of results) if (r.status === 'rejected') this.onError(r.reason);
  }

  /** Never rejects: a failed push is repaired by cursors. */
  async appended(appended: Appended): Promise<void> {
    if (appended.size === 0) return;
    try {
      await this.toUsers([...appended.keys()], (user) => ({ type: 'events', user, events: appended.get(user) ?? [] }));
    } catch (err) {
      this.onError(err);
    }
  }

  async typing(recipients: readonly UserId[], conv: ConversationId, from: UserId, on: boolean): Promise<void> {
    try {
      await this.toUsers(recipients, (user) => ({ type: 'typing', user, conv, from, on }));
    } catch (err) {
      this.onError(err);
    }
  }

  async call(recipients: readonly UserId[], frame: CallFrame): Promise<void> {
    try {
      await this.toUsers(recipients, (user) => ({ type: 'call', user, frame }));
    } catch (err) {
      this.onError(err);
    }
  }

  async presence(user: UserId, online: boolean, lastSeen: number | null): Promise<void> {
    try {
      await this.broker.publish(Topics.presence(user), { type: 'presence', user, online, lastSeen });
    } catch (err) {
      this.onError(err);
    }
  }

  async revoke(user: UserId, device: DeviceId): Promise<void> {
    try {
      await this.toUsers([user], () => ({ type: 'revoke', user, device }));
    } catch (err) {
      this.onError(err);
    }
  }
}
