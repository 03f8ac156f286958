/** Turning store records into the wire shapes, as seen by one user. */
import type { Conversation, UserId } from '@parley/protocol';
import type { ConversationSummary } from '../store/Store.ts';

export function conversationView(s: ConversationSummary, me: UserId): Conversation {
  const other = s.kind === 'direct' ? s.members.find((m) => m.user !== me) : undefined;
  return {
    id: s.id,
    kind: s.kind,
    name: s.kind === 'direct' ? (other?.handle ?? '') : s.name,
    members: s.members.map((m) => ({ user: m.user, handle: m.handle, admin: m.admin, delivered: m.delivered, read: m.read })),
    lastSeq: s.lastSeq,
    lastMessage: s.lastMessage,
    unread: s.unread,
    delivered: s.delivered,
    read: s.read,
    createdAt: s.createdAt,
    activeAt: s.activeAt,
  };
}
