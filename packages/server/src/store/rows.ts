/**
 * Row shapes both SQL stores share (their schemas use the same column names) and their mapping to
 * the Store's records. Each store's own rows.ts adds what differs (SQLite's member rows, PostgreSQL's
 * JSON-aggregated members).
 */
import type { ConversationId, ConversationKind, CursorEvent, DeviceId, LogEvent, Message, UserId } from '@parley/protocol';
import type { DeviceRecord, UserRecord } from './Store.ts';

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
  /** boolean in PostgreSQL, 0/1 in SQLite. */
  revoked: boolean | number;
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

export interface ConversationBaseRow {
  id: string;
  kind: string;
  name: string;
  created_at: number;
  last_seq: number;
  active_at: number;
  agg_delivered: number;
  agg_read: number;
}

/** A log row joined with its message (for message events); `P` is how the driver hands JSON back. */
export interface EventRow<P> {
  cursor: number;
  kind: string;
  conv_id: string | null;
  seq: number | null;
  payload: P | null;
  m_sender: string | null;
  m_cmid: string | null;
  m_kind: string | null;
  m_body: string | null;
  m_ts: number | null;
}

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
    revoked: r.revoked === true || r.revoked === 1,
    acked: r.acked,
  };
}

export function toMessage(r: MessageRow): Message {
  return { conv: r.conv_id as ConversationId, seq: r.seq, from: r.sender as UserId, cmid: r.cmid, kind: r.kind, body: r.body, ts: r.ts };
}

export function conversationBase(r: ConversationBaseRow) {
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

/** Rebuild a log event from its row: message events from the joined message, others from the payload. */
export function toCursorEvent<P>(r: EventRow<P>, payload: (p: P | null) => LogEvent): CursorEvent {
  if (r.kind !== 'message') return { c: r.cursor, e: payload(r.payload) };
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
