/** Shapes of the domain objects as they travel on the wire. */
import type { ConversationId, Cursor, Seq, UserId } from './ids.ts';

export interface Message {
  conv: ConversationId;
  seq: Seq;
  from: UserId;
  cmid: string;
  kind: string;
  body: string;
  /** Server time of the commit, ms since the epoch. */
  ts: number;
}

export type ConversationKind = 'direct' | 'group';

export interface Member {
  user: UserId;
  handle: string;
  admin: boolean;
  /** This member has received every message up to this seq (on any device). */
  delivered: Seq;
  /** This member has read every message up to this seq. */
  read: Seq;
}

export interface Conversation {
  id: ConversationId;
  kind: ConversationKind;
  /** Group name; for a direct conversation, the other user's handle. */
  name: string;
  members: Member[];
  /** Highest seq stored in the conversation. */
  lastSeq: Seq;
  lastMessage: Message | null;
  /** Messages from others after my read watermark. */
  unread: number;
  /** All-members minimum watermarks: what the senders' ticks show. */
  delivered: Seq;
  read: Seq;
  createdAt: number;
  /** Time of the last message, or of creation. */
  activeAt: number;
}

export interface PresenceState {
  user: UserId;
  online: boolean;
  /** When the user was last connected, ms since the epoch; null if never. */
  lastSeen: number | null;
}

export interface MessageInfo {
  conv: ConversationId;
  seq: Seq;
  members: { user: UserId; handle: string; delivered: boolean; read: boolean }[];
}

/** Events that enter a user's log: each has a cursor, is replayed on resume, is acked. */
export type LogEvent =
  | { k: 'message'; msg: Message }
  /** The all-members watermarks of a conversation advanced past messages this user sent. */
  | { k: 'receipt'; conv: ConversationId; delivered: Seq; read: Seq }
  /** This user read the conversation up to seq on some device (keeps devices in step). */
  | { k: 'read'; conv: ConversationId; seq: Seq }
  /** Membership or metadata changed; `conv` is the conversation as this user now sees it. */
  | { k: 'conv'; change: 'created' | 'joined' | 'left' | 'removed' | 'members' | 'renamed'; conv: ConversationId; by: UserId };

export interface CursorEvent {
  c: Cursor;
  e: LogEvent;
}
