/** Row shapes of the PostgreSQL schema and their mapping to the Store's records. */
import type { ConversationId, ConversationKind, Cursor, CursorEvent, DeviceId, LogEvent, Message, UserId } from '@parley/protocol';
import type { ConversationRecord, DeviceRecord, MemberRecord, UserRecord } from '../Store.ts';

export interface UserRow {
  id: string;
  handle: string;
  password_hash: string;
  created_at: number;
  last_seen: number | null;
}

export interface DeviceRow {
  id: string;
  user_id: string;
  name: string;
  refresh_hash: string;
  created_at: number;
  revoked: boolean;
  acked: number;
}

export interface MessageRow {
  conv_id: string;
  seq: number;
  sender: string;
  cmid: string;
  kind: string;
  body: string;
  ts: number;
}

/** A conversation with its active members aggregated as JSON (see CONVERSATION_COLUMNS). */
export interface ConversationRow {
  id: string;
  kind: string;
  name: string;
  created_at: number;
  last_seq: number;
  active_at: number;
  agg_delivered: number;
  agg_read: number;
  members: MemberRecord[];
}

export interface EventRow {
  cursor: number;
  kind: string;
  conv_id: string | null;
  seq: number | null;
  payload: LogEvent | null;
  m_sender: string | null;
  m_cmid: string | null;
  m_kind: string | null;
  m_body: string | null;
  m_ts: number | null;
}

/**
 * Columns of a conversation row with its active members as a JSON array, ordered by join time.
 * Needs `conversations` aliased as `c`.
 */
export const CONVERSATION_COLUMNS = `
  c.id, c.kind, c.name, c.created_at, c.last_seq, c.active_at, c.agg_delivered, c.agg_read,
  (SELECT coalesce(json_agg(json_build_object(
      'user', m.user_id, 'handle', u.handle, 'admin', m.admin, 'delivered', m.delivered,
      'read', m.read, 'joinedAt', m.joined_at) ORDER BY m.joined_at, m.user_id), '[]'::json)
     FROM members m JOIN users u ON u.id = m.user_id
    WHERE m.conv_id = c.id AND m.active) AS members`;

export function toUser(r: UserRow): UserRecord {
  return { id: r.id as UserId, handle: r.handle, passwordHash: r.password_hash, createdAt: r.created_at, lastSeen: r.last_seen };
}

export function toDevice(r: DeviceRow): DeviceRecord {
  return {
    id: r.id as DeviceId,
    user: r.user_id as UserId,
    name: r.name,
    refreshHash: r.refresh_hash,
    createdAt: r.created_at,
    revoked: r.revoked,
    acked: r.acked,
  };
}

export function toMessage(r: MessageRow): Message {
  return { conv: r.conv_id as ConversationId, seq: r.seq, from: r.sender as UserId, cmid: r.cmid, kind: r.kind, body: r.body, ts: r.ts };
}

export function toConversation(r: ConversationRow): ConversationRecord {
  return {
    id: r.id as ConversationId,
    kind: r.kind as ConversationKind,
    name: r.name,
    createdAt: r.created_at,
    lastSeq: r.last_seq,
    activeAt: r.active_at,
    delivered: r.agg_delivered,
    read: r.agg_read,
    members: r.members,
  };
}

export function toCursorEvent(r: EventRow): CursorEvent {
  const c: Cursor = r.cursor;
  if (r.kind === 'message') {
    const msg: Message = {
      conv: r.conv_id as ConversationId,
      seq: r.seq ?? 0,
      from: (r.m_sender ?? '') as UserId,
      cmid: r.m_cmid ?? '',
      kind: r.m_kind ?? '',
      body: r.m_body ?? '',
      ts: r.m_ts ?? 0,
    };
    return { c, e: { k: 'message', msg } };
  }
  return { c, e: r.payload as LogEvent };
}
