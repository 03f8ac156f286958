/** Router for one process: no TTLs are needed because the process that holds the map is the node. */
import type { UserId } from '@parley/protocol';
import type { Router } from './Router.ts';

export class MemoryRouter implements Router {
  private readonly nodes = new Map<UserId, Set<string>>();

  async attach(user: UserId, node: string): Promise<void> {
    let set = this.nodes.get(user);
    if (!set) this.nodes.set(user, (set = new Set()));
    set.add(node);
  }

  async detach(user: UserId, node: string): Promise<void> {
    const set = this.nodes.get(user);
    if (!set) return;
    set.delete(node);
    if (set.size === 0) this.nodes.delete(user);
  }

  async nodesOf(users: readonly UserId[]): Promise<Map<UserId, string[]>> {
    const out = new Map<UserId, string[]>();
    for (const user of users) {
      const set = this.nodes.get(user);
      if (set && set.size > 0) out.set(user, [...set]);
    }
    return out;
  }

  async heartbeat(): Promise<void> {}
  async close(): Promise<void> {
    this.nodes.clear();
  }
}
