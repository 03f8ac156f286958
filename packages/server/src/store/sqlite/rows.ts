/** Row shapes of the SQLite schema and their mapping to the Store's records. */
import type { ConversationId, ConversationKind, CursorEvent, LogEvent, Message, UserId } from '@parley/protocol';
import type { MemberRecord } from '../Store.ts';

export interface MessageRow {
  conv_id: string;
  seq: number;
  sender: string;
  cmid: string;
  kind: string;
  body: string;
  ts: number;
}

export interface ConversationRow {
  id: string;
  kind: string;
  name: string;
  created_at: number;
  last_seq: number;
  active_at: number;
  agg_delivered: number;
  agg_read: number;
}

export interface MemberRow {
  user_id: string;
  handle: string;
  admin: number;
  delivered: number;
  read: number;
  joined_at: number;
}

export interface EventRow {
  cursor: number;
  kind: string;
  conv_id: string | null;
  seq: number | null;
  payload: string | null;
  m_sender: string | null;
  m_cmid: string | null;
  m_kind: string | null;
  m_body: string | null;
  m_ts: number | null;
}

export function toMessage(r: MessageRow): Message {
  return { conv: r.conv_id as ConversationId, seq: r.seq, from: r.sender as UserId, cmid: r.cmid, kind: r.kind, body: r.body, ts: r.ts };
}

export function toMember(r: MemberRow): MemberRecord {
  return { user: r.user_id as UserId, handle: r.handle, admin: r.admin === 1, delivered: r.delivered, read: r.read, joinedAt: r.joined_at };
}

export function conversationBase(r: ConversationRow) {
  return {
    id: r.id as ConversationId,
    kind: r.kind as ConversationKind,
    name: r.name,
    createdAt: r.created_at,
    lastSeq: r.last_seq,
    activeAt: r.active_at,
    delivered: r.agg_delivered,
    read: r.agg_read,
  };
}

/** Rebuild a log event from its row; message events are joined with their message. */
export function toCursorEvent(r: EventRow): CursorEvent {
  if (r.kind === 'message') {
    const msg: Message = {
      conv: r.conv_id as ConversationId,
      seq: r.seq ?? 0,
      from: (r.m_sender ?? '') as UserId,
      cmid: r.m_cmid ?? '',
      kind: r.m_kind ?? 'text',
      body: r.m_body ?? '',
      ts: r.m_ts ?? 0,
    };
    return { c: r.cursor, e: { k: 'message', msg } };
  }
  return { c: r.cursor, e: JSON.parse(r.payload ?? '{}') as LogEvent };
}
