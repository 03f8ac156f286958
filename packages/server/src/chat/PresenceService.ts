/**
 * Presence as the domain sees it: connection transitions become announcements on the user's presence
 * topic and a stored last-seen time; who may watch whom is decided here.
 */
import { ParleyError, type PresenceState, type UserId } from '@parley/protocol';
import type { Presence } from '../presence/Presence.ts';
import type { Store } from '../store/Store.ts';
import type { Delivery } from './Delivery.ts';
import { CLEANUP_RETRY_MS, retry } from '../util/retry.ts';

export class PresenceService {
  constructor(
    private readonly presence: Presence,
    private readonly store: Store,
    private readonly delivery: Delivery,
    private readonly node: string,
  ) {}

  async connected(user: UserId, connId: string): Promise<void> {
    if (await this.presence.connect(user, connId, this.node)) await this.delivery.presence(user, true, null);
  }

  async disconnected(user: UserId, connId: string): Promise<void> {
    let offline: boolean;
    try {
      offline = await this.presence.disconnect(user, connId, this.node);
    } catch {
      // Retried, or the user would show online until its entry expires. The failed attempt may
      // have removed the entry before its reply was lost, so whether this was the user's last
      // connection is asked afterwards instead of taken from the retry's answer.
      await retry(() => this.presence.disconnect(user, connId, this.node), CLEANUP_RETRY_MS);
      offline = !(await this.presence.online([user])).has(user);
    }
    if (offline) {
      const now = Date.now();
      await this.store.setLastSeen(user, now);
      await this.delivery.presence(user, false, now);
    }
  }

  /** Only users that share a conversation with the watcher (or the watcher itself) may be watched. */
  async authorize(watcher: UserId, users: readonly UserId[]): Promise<void> {
    for (const u of users) {
      if (u !== watcher && !(await this.store.shareConversation(watcher, u))) {
        throw new ParleyError('FORBIDDEN', `no shared conversation with ${u.slice(0, 64)}`);
      }
    }
  }

  async states(users: readonly UserId[]): Promise<PresenceState[]> {
    const [online, records] = await Promise.all([this.presence.online(users), this.store.usersById(users)]);
    const lastSeen = new Map(records.map((r) => [r.id, r.lastSeen]));
    return users.map((user) => ({ user, online: online.has(user), lastSeen: lastSeen.get(user) ?? null }));
  }
}
