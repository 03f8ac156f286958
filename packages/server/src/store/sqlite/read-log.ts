/**
 * Reading a user's log when part of it lives in runs (runs.ts): the cursors after `after` are
 * dense, so the page is exactly cursors after+1 .. after+limit (up to the head), some from event
 * rows, the others from runs, which become message events read from `messages`.
 */
import type Database from 'better-sqlite3';
import type { ConversationId, Cursor, CursorEvent, UserId } from '@parley/protocol';
import { toMessage, type MessageRow } from '../rows.ts';
import { sqliteEvent, type SqliteEventRow } from './rows.ts';

/** A user's head: its stored head plus its open run, which ends at the conversation's last seq. */
export const EFFECTIVE_HEAD = `SELECT h.head + COALESCE(c.last_seq - r.first_seq + 1, 0) AS head
   FROM heads h
   LEFT JOIN runs r ON r.user_id = h.user_id AND r.last_seq IS NULL
   LEFT JOIN conversations c ON c.id = r.conv_id
  WHERE h.user_id = ?`;

/** The runs of a user that reach past cursor `after` (closed ones ending after it, and the open one). */
export const RUNS_AFTER = `SELECT r.conv_id, r.base_cursor, r.first_seq,
        COALESCE(r.end_cursor, r.base_cursor + c.last_seq - r.first_seq) AS end_cursor
   FROM runs r JOIN conversations c ON c.id = r.conv_id
  WHERE r.user_id = ? AND (r.end_cursor > ? OR r.last_seq IS NULL) AND r.base_cursor <= ?
  ORDER BY r.base_cursor`;

export function readLogWithRuns(prepare: (sql: string) => Database.Statement, user: UserId, after: Cursor, limit: number): CursorEvent[] {
  const upTo = after + limit;
  const rows = prepare(
    `SELECT e.cursor, e.kind, e.conv_id, e.seq, e.payload,
            m.sender AS m_sender, m.cmid AS m_cmid, m.kind AS m_kind, m.body AS m_body, m.ts AS m_ts
       FROM events e LEFT JOIN messages m ON e.kind = 'message' AND m.conv_id = e.conv_id AND m.seq = e.seq
      WHERE e.user_id = ? AND e.cursor > ? AND e.cursor <= ? ORDER BY e.cursor`,
  ).all(user, after, upTo) as SqliteEventRow[];
  const events = rows.map(sqliteEvent);
  const runs = prepare(RUNS_AFTER).all(user, after, upTo) as { conv_id: string; base_cursor: number; first_seq: number; end_cursor: number }[];
  if (runs.length === 0) return events;
  const range = prepare('SELECT * FROM messages WHERE conv_id = ? AND seq >= ? AND seq <= ? ORDER BY seq');
  for (const r of runs) {
    const lo = Math.max(r.base_cursor, after + 1);
    const hi = Math.min(r.end_cursor, upTo);
    if (lo > hi) continue;
    const msgs = range.all(r.conv_id as ConversationId, r.first_seq + lo - r.base_cursor, r.first_seq + hi - r.base_cursor) as MessageRow[];
    for (const m of msgs) events.push({ c: r.base_cursor + m.seq - r.first_seq, e: { k: 'message', msg: toMessage(m) } });
  }
  events.sort((a, b) => a.c - b.c);
  return events;
}
