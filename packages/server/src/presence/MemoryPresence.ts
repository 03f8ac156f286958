/** Presence for one process: a set of live connection ids per user. */
import type { UserId } from '@parley/protocol';
import type { Presence } from './Presence.ts';

export class MemoryPresence implements Presence {
  private readonly conns = new Map<UserId, Set<string>>();

  async connect(user: UserId, connId: string): Promise<boolean> {
    let set = this.conns.get(user);
    const wasOffline = !set || set.size === 0;
    if (!set) this.conns.set(user, (set = new Set()));
    set.add(connId);
    return wasOffline;
  }

  async disconnect(user: UserId, connId: string): Promise<boolean> {
    const set = this.conns.get(user);
    if (!set || !set.delete(connId)) return false;
    if (set.size > 0) return false;
    this.conns.delete(user);
    return true;
  }

  async online(users: readonly UserId[]): Promise<Set<UserId>> {
    return new Set(users.filter((u) => (this.conns.get(u)?.size ?? 0) > 0));
  }

  async heartbeat(): Promise<void> {}
  async close(): Promise<void> {
    this.conns.clear();
  }
}
