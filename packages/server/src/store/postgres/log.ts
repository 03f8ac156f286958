/**
 * User event logs. Appending takes each recipient's `users` row lock and bumps `head` by the
 * number of its new events, so cursors stay dense and strictly increasing across nodes: the
 * lock serialises every writer of one user's log until commit.
 */
import type { Cursor, CursorEvent, LogEvent, UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { Appended } from '../Store.ts';
import { lockRows } from './tx.ts';
import { toCursorEvent, type EventRow } from './rows.ts';
import { query } from './prepared.ts';

export interface PendingEvent {
  user: UserId;
  e: LogEvent;
}

/**
 * Appends events in the given order (per user) with two statements whatever their number.
 * Events for users that do not exist are dropped. `locked`: the caller already holds the rows.
 */
export async function appendEvents(client: PoolClient, events: readonly PendingEvent[], locked = false): Promise<Appended> {
  const appended: Appended = new Map();
  if (events.length === 0) return appended;
  const counts = new Map<UserId, number>();
  const cols = { user: [] as string[], idx: [] as number[], kind: [] as string[], conv: [] as (string | null)[], seq: [] as (number | null)[], payload: [] as (string | null)[] };
  for (const { user, e } of events) {
    const idx = (counts.get(user) ?? 0) + 1;
    counts.set(user, idx);
    cols.user.push(user);
    cols.idx.push(idx);
    cols.kind.push(e.k);
    if (e.k === 'message') {
      cols.conv.push(e.msg.conv);
      cols.seq.push(e.msg.seq);
      cols.payload.push(null);
    } else {
      cols.conv.push(e.conv);
      cols.seq.push(null);
      cols.payload.push(JSON.stringify(e));
    }
  }
  const users = [...counts.keys()];
  if (!locked) await lockRows(client, 'users', users);
  const { rows } = await query<{ id: string; base: number }>(client,
    `WITH h AS (
       UPDATE users u SET head = u.head + v.n
         FROM unnest($1::text[], $2::bigint[]) AS v(id, n)
        WHERE u.id = v.id
       RETURNING u.id, u.head - v.n AS base
     ), ins AS (
       INSERT INTO events (user_id, cursor, kind, conv_id, seq, payload)
       SELECT e.user_id, h.base + e.idx, e.kind, e.conv_id, e.seq, e.payload::jsonb
         FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[])
              AS e(user_id, idx, kind, conv_id, seq, payload)
         JOIN h ON h.id = e.user_id
     )
     SELECT id, base FROM h`,
    [users, users.map((u) => counts.get(u) ?? 0), cols.user, cols.idx, cols.kind, cols.conv, cols.seq, cols.payload],
  );
  const base = new Map<string, number>(rows.map((r) => [r.id, r.base]));
  events.forEach(({ user, e }, i) => {
    const b = base.get(user);
    if (b === undefined) return;
    let list = appended.get(user);
    if (!list) appended.set(user, (list = []));
    list.push({ c: b + (cols.idx[i] ?? 0), e });
  });
  return appended;
}

/** Adds `more` into `into`, keeping each user's list in cursor order (later calls append later). */
export function mergeAppended(into: Appended, more: Appended): Appended {
  for (const [user, list] of more) {
    const have = into.get(user);
    if (have) have.push(...list);
    else into.set(user, [...list]);
  }
  return into;
}

export async function readLog(client: PoolClient, user: UserId, after: Cursor, limit: number): Promise<CursorEvent[]> {
  const { rows } = await query<EventRow>(client,
    `SELECT e.cursor, e.kind, e.conv_id, e.seq, e.payload,
            m.sender AS m_sender, m.cmid AS m_cmid, m.kind AS m_kind, m.body AS m_body, m.ts AS m_ts
       FROM events e
       LEFT JOIN messages m ON e.kind = 'message' AND m.conv_id = e.conv_id AND m.seq = e.seq
      WHERE e.user_id = $1 AND e.cursor > $2
      ORDER BY e.cursor
      LIMIT $3`,
    [user, after, Math.max(0, limit)],
  );
  return rows.map(toCursorEvent);
}
