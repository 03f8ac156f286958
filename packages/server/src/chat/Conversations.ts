/** Conversation commands: direct and group creation, membership, admins, names. */
import { ParleyError, type Conversation, type ConversationId, type UserId } from '@parley/protocol';
import type { Principal } from '../auth/tokens.ts';
import type { Store } from '../store/Store.ts';
import { newConversationId } from '../util/ids.ts';
import type { Delivery } from './Delivery.ts';
import { conversationView } from './views.ts';

export class Conversations {
  constructor(
    private readonly store: Store,
    private readonly delivery: Delivery,
    private readonly maxGroupMembers: number,
  ) {}

  /** A user given by id or by handle. */
  async resolveUser(ref: string): Promise<UserId> {
    const [byId] = await this.store.usersById([ref as UserId]);
    if (byId) return byId.id;
    const byHandle = await this.store.userByHandle(ref);
    if (byHandle) return byHandle.id;
    throw new ParleyError('NOT_FOUND', `no such user: ${ref.slice(0, 64)}`);
  }

  async view(me: UserId, conv: ConversationId): Promise<Conversation> {
    const s = await this.store.conversationFor(me, conv);
    if (!s) throw await this.refusal(conv);
    return conversationView(s, me);
  }

  /** NOT_FOUND for a conversation that does not exist, NOT_MEMBER for one the user is not in. */
  async refusal(conv: ConversationId): Promise<ParleyError> {
    return (await this.store.conversation(conv)) ? new ParleyError('NOT_MEMBER') : new ParleyError('NOT_FOUND', 'no such conversation');
  }

  async requireMember(conv: ConversationId, user: UserId): Promise<void> {
    if (!(await this.store.isMember(conv, user))) throw await this.refusal(conv);
  }

  private async requireAdmin(conv: ConversationId, user: UserId): Promise<void> {
    const c = await this.store.conversation(conv);
    if (!c) throw new ParleyError('NOT_FOUND', 'no such conversation');
    const me = c.members.find((m) => m.user === user);
    if (!me) throw new ParleyError('NOT_MEMBER');
    if (c.kind !== 'group') throw new ParleyError('FORBIDDEN', 'direct conversations have fixed members');
    if (!me.admin) throw new ParleyError('NOT_ADMIN');
  }

  async list(p: Principal): Promise<Conversation[]> {
    return (await this.store.conversationsOf(p.user)).map((s) => conversationView(s, p.user));
  }

  async direct(p: Principal, ref: string): Promise<Conversation> {
    const other = await this.resolveUser(ref);
    if (other === p.user) throw new ParleyError('INVALID', 'cannot open a direct conversation with yourself');
    const existing = await this.store.directBetween(p.user, other);
    if (existing) return this.view(p.user, existing);
    const res = await this.store.createConversation({
      id: newConversationId(),
      kind: 'direct',
      name: '',
      createdAt: Date.now(),
      by: p.user,
      members: [
        { user: p.user, admin: false },
        { user: other, admin: false },
      ],
    });
    await this.delivery.appended(res.appended);
    return this.view(p.user, res.id);
  }

  async group(p: Principal, name: string, refs: readonly string[]): Promise<Conversation> {
    const ids = new Set<UserId>([p.user]);
    for (const ref of refs) ids.add(await this.resolveUser(ref));
    if (ids.size > this.maxGroupMembers) throw new ParleyError('GROUP_FULL');
    const res = await this.store.createConversation({
      id: newConversationId(),
      kind: 'group',
      name,
      createdAt: Date.now(),
      by: p.user,
      members: [...ids].map((user) => ({ user, admin: user === p.user })),
    });
    await this.delivery.appended(res.appended);
    return this.view(p.user, res.id);
  }

  async add(p: Principal, conv: ConversationId, refs: readonly string[]): Promise<Conversation> {
    await this.requireAdmin(conv, p.user);
    const users: UserId[] = [];
    for (const ref of refs) users.push(await this.resolveUser(ref));
    await this.delivery.appended(await this.store.addMembers(conv, users, p.user, this.maxGroupMembers));
    return this.view(p.user, conv);
  }

  async remove(p: Principal, conv: ConversationId, ref: string): Promise<Conversation | null> {
    const user = await this.resolveUser(ref);
    if (user === p.user) {
      await this.leave(p, conv);
      return null;
    }
    await this.requireAdmin(conv, p.user);
    await this.delivery.appended(await this.store.removeMember(conv, user, p.user, 'removed'));
    return this.view(p.user, conv);
  }

  async leave(p: Principal, conv: ConversationId): Promise<void> {
    const c = await this.store.conversation(conv);
    if (!c) throw new ParleyError('NOT_FOUND', 'no such conversation');
    if (c.kind !== 'group') throw new ParleyError('FORBIDDEN', 'cannot leave a direct conversation');
    await this.delivery.appended(await this.store.removeMember(conv, p.user, p.user, 'left'));
    // A group never stays without an admin: the longest-standing member is promoted.
    const after = await this.store.conversation(conv);
    if (after && after.members.length > 0 && !after.members.some((m) => m.admin)) {
      const heir = after.members[0];
      if (heir) await this.delivery.appended(await this.store.setAdmin(conv, heir.user, true, p.user));
    }
  }

  async setAdmin(p: Principal, conv: ConversationId, ref: string, admin: boolean): Promise<Conversation> {
    await this.requireAdmin(conv, p.user);
    const user = await this.resolveUser(ref);
    if (!admin) {
      // A group never stays without an admin: the last one cannot step down (but may leave).
      const c = await this.store.conversation(conv);
      const others = c?.members.filter((m) => m.admin && m.user !== user) ?? [];
      if (others.length === 0) throw new ParleyError('FORBIDDEN', 'a group needs at least one admin');
    }
    await this.delivery.appended(await this.store.setAdmin(conv, user, admin, p.user));
    return this.view(p.user, conv);
  }

  async rename(p: Principal, conv: ConversationId, name: string): Promise<Conversation> {
    await this.requireAdmin(conv, p.user);
    await this.delivery.appended(await this.store.rename(conv, name, p.user));
    return this.view(p.user, conv);
  }
}
