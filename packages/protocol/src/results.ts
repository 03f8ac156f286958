/** The `data` of the `res` frame that answers each command. */
import type { ConversationId, Cursor, Seq, UserId } from './ids.ts';
import type { Conversation, CursorEvent, Message, MessageInfo, PresenceState } from './model.ts';
import type { RtcResults } from './rtc.ts';

export interface Results extends RtcResults {
  /** The "sent" tick: given only after the store committed. A retry gets the original seq. */
  send: { conv: ConversationId; cmid: string; seq: Seq; ts: number; duplicate: boolean };
  ack: { cursor: Cursor };
  read: { conv: ConversationId; seq: Seq };
  typing: Record<string, never>;
  'presence.sub': { states: PresenceState[] };
  'presence.unsub': Record<string, never>;
  history: { messages: Message[]; more: boolean };
  sync: { events: CursorEvent[]; head: Cursor };
  'conv.list': { conversations: Conversation[] };
  'conv.get': { conversation: Conversation };
  'conv.direct': { conversation: Conversation };
  'conv.group': { conversation: Conversation };
  'conv.add': { conversation: Conversation };
  /** null when the caller removed itself (the same as conv.leave). */
  'conv.remove': { conversation: Conversation | null };
  'conv.leave': { conv: ConversationId };
  'conv.admin': { conversation: Conversation };
  'conv.rename': { conversation: Conversation };
  'msg.info': MessageInfo;
  'user.find': { user: UserId; handle: string };
  ping: { now: number };
}
