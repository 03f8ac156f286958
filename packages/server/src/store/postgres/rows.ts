/** Row shapes only the PostgreSQL schema has, and the PostgreSQL flavour of the shared mappings. */
import type { CursorEvent, LogEvent } from '@parley/protocol';
import type { ConversationRecord, MemberRecord } from '../Store.ts';
import { conversationBase, toCursorEvent as fromRow, type ConversationBaseRow, type EventRow as SharedEventRow } from '../rows.ts';

export { toDevice, toMessage, toUser, type DeviceRow, type MessageRow, type UserRow } from '../rows.ts';

/** A conversation with its active members aggregated as JSON (see CONVERSATION_COLUMNS). */
export interface ConversationRow extends ConversationBaseRow {
  members: MemberRecord[];
}

/** pg parses JSON columns itself: the payload arrives as the event. */
export type EventRow = SharedEventRow<LogEvent>;

/**
 * Columns of a conversation row with its active members as a JSON array, ordered by join time.
 * Needs `conversations` aliased as `c`.
 */
export const CONVERSATION_COLUMNS = `
  c.id, c.kind, c.name, c.created_at, c.last_seq, c.active_at, c.agg_delivered, c.agg_read,
  (SELECT coalesce(json_agg(json_build_object(
      'user', m.user_id, 'handle', u.handle, 'admin', m.admin,
      'delivered', greatest(m.delivered, coalesce(d.delivered, 0)),
      'read', m.read, 'joinedAt', m.joined_at) ORDER BY m.joined_at, m.user_id), '[]'::json)
     FROM members m JOIN users u ON u.id = m.user_id
     LEFT JOIN deliveries d ON d.conv_id = m.conv_id AND d.user_id = m.user_id
    WHERE m.conv_id = c.id AND m.active) AS members`;

export function toConversation(r: ConversationRow): ConversationRecord {
  return { ...conversationBase(r), members: r.members };
}

export function toCursorEvent(r: EventRow): CursorEvent {
  return fromRow(r, (p) => p as LogEvent);
}
