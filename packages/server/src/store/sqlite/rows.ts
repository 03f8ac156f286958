/** Row shapes only the SQLite schema has, and the SQLite flavour of the shared mappings. */
import type { CursorEvent, LogEvent, UserId } from '@parley/protocol';
import type { MemberRecord } from '../Store.ts';
import { toCursorEvent, type ConversationBaseRow, type EventRow } from '../rows.ts';

export type ConversationRow = ConversationBaseRow;

export interface MemberRow {
  user_id: string;
  handle: string;
  admin: number;
  delivered: number;
  read: number;
  joined_at: number;
}

/** SQLite hands JSON payloads back as text. */
export type SqliteEventRow = EventRow<string>;

export function toMember(r: MemberRow): MemberRecord {
  return { user: r.user_id as UserId, handle: r.handle, admin: r.admin === 1, delivered: r.delivered, read: r.read, joinedAt: r.joined_at };
}

export function sqliteEvent(r: SqliteEventRow): CursorEvent {
  return toCursorEvent(r, (p) => JSON.parse(p ?? '{}') as LogEvent);
}
