/**
 * Receipts are watermarks per (conversation, member): `delivered` and `read`, only ever forward,
 * read implying delivered. The conversation keeps the all-members minimum (agg_delivered,
 * agg_read); when it advances, each active member who sent a message whose ticks changed — seq in
 * (old agg_delivered, new] or (old agg_read, new] — gets one `receipt` event with the new minimums.
 * The scan is bounded by how far the minimums moved, not by how much history is still unread.
 *
 * Lock order (shared with every writer): conversations, then users, each sorted by id. Member rows
 * are only written under their conversation's row lock. Acks are the exception by design: what
 * they write (devices.acked, user_acks, deliveries: a member's delivered watermark is
 * greatest(members.delivered, deliveries.delivered)) no other writer touches, so they write it
 * first, in key order, and lock the conversations only to recompute the minimums and append the
 * receipts: a large group's ~1,000 acks per message never hold the lock its appends need.
 */
import type { ConversationId, UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { AckRequest, Appended, ReadRequest } from '../Store.ts';
import { appendEvents, type PendingEvent } from './log.ts';
import { query } from './prepared.ts';
import { decodeSettle, type SettleRow } from './settle.ts';

interface Move {
  conv: ConversationId;
  user: UserId;
  delivered: number;
  read: number;
}

/**
 * Recomputes the all-members minimums of conversations whose rows the caller has locked, stores
 * them when they advanced, and returns the receipt events to append.
 */
export async function recomputeReceipts(client: PoolClient, convs: readonly string[]): Promise<PendingEvent[]> {
  if (convs.length === 0) return [];
  // parley_receipts (migration 4): the statement that recomputes and stores the minimums.
  const { rows } = await query<{ o_id: string; o_sender: string; o_d: number; o_r: number }>(client,
    'SELECT * FROM parley_receipts($1::text[])',
    [convs],
  );
  return rows.map((r) => ({
    user: r.o_sender as UserId,
    e: { k: 'receipt', conv: r.o_id as ConversationId, delivered: r.o_d, read: r.o_r },
  }));
}

/**
 * Moves member watermarks forward (clamped to each conversation's lastSeq; non-members and
 * inactive members skipped). Returns the members whose read watermark moved, and receipts.
 * `extra` conversations are locked (and held) with the moves' own.
 */
async function moveWatermarks(client: PoolClient, moves: readonly Move[], extra: readonly string[]) {
  const merged = new Map<string, Move>();
  for (const m of moves) {
    const key = JSON.stringify([m.conv, m.user]);
    const have = merged.get(key);
    const read = Math.max(have?.read ?? 0, m.read);
    merged.set(key, { conv: m.conv, user: m.user, read, delivered: Math.max(have?.delivered ?? 0, m.delivered, read) });
  }
  const list = [...merged.values()];
  const convIds = [...new Set(list.map((m) => m.conv))];
  if (list.length === 0) return { reads: [], receipts: [], held: new Map<string, number>() };
  const locked = await query<{ id: string; last_seq: number }>(client,
    'SELECT id, last_seq FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE',
    [[...new Set([...convIds, ...extra])]],
  );
  const lastSeq = new Map(locked.rows.map((r) => [r.id, r.last_seq]));
  const upd = list.filter((m) => lastSeq.has(m.conv));
  const { rows } = await query<{ conv_id: string; user_id: string; old_read: number; read: number }>(client,
    `UPDATE members m SET delivered = greatest(m.delivered, o.d), read = greatest(m.read, o.r)
       FROM (SELECT x.conv_id, x.user_id, x.read AS old_read, v.d, v.r
               FROM members x
               JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS v(conv_id, user_id, d, r)
                 ON x.conv_id = v.conv_id AND x.user_id = v.user_id
              WHERE x.active AND (v.d > x.delivered OR v.r > x.read)) o
      WHERE m.conv_id = o.conv_id AND m.user_id = o.user_id
      RETURNING m.conv_id, m.user_id, o.old_read, m.read`,
    [
      upd.map((m) => m.conv),
      upd.map((m) => m.user),
      upd.map((m) => Math.min(m.delivered, lastSeq.get(m.conv) ?? 0)),
      upd.map((m) => Math.min(m.read, lastSeq.get(m.conv) ?? 0)),
    ],
  );
  const reads = rows
    .filter((r) => r.read > r.old_read)
    .map((r) => ({ user: r.user_id as UserId, conv: r.conv_id as ConversationId, seq: r.read }));
  const changed = [...new Set(rows.map((r) => r.conv_id))];
  return { reads, receipts: await recomputeReceipts(client, changed), held: lastSeq };
}

/** `extra`: conversations to lock with the batch's own (NeedsLocks), as applyAcks'. */
export async function applyReads(client: PoolClient, batch: readonly ReadRequest[], extra: readonly string[] = []): Promise<Appended> {
  const { reads, receipts, held } = await moveWatermarks(
    client,
    batch.map((r) => ({ conv: r.conv, user: r.user, delivered: r.seq, read: r.seq })),
    extra,
  );
  const events: PendingEvent[] = reads.map((r) => ({ user: r.user, e: { k: 'read', conv: r.conv, seq: r.seq } }));
  return appendEvents(client, [...events, ...receipts], { held });
}

/** `extra`: conversations to lock with those settled, as appendMessages' (NeedsLocks). */
export async function applyAcks(client: PoolClient, batch: readonly AckRequest[], extra: readonly string[] = []): Promise<Appended> {
  if (batch.length === 0) return new Map();
  const userIds = [...new Set(batch.map((a) => a.user))];
  // Unlocked read: the effective head (runs.ts) only grows, and events up to a committed head
  // never change. One statement, so runs and last_seq come from one snapshot. The run is looked up
  // per user (LATERAL ... LIMIT 1 on runs alone, an index probe by user whatever the table
  // statistics say: on a fresh schema the planner took runs for 5 rows and filtered 1,024 x 1,024
  // pairs, 36 ms per call; with conversations joined inside the LATERAL and statistics saying one
  // conversation, it probed runs by conversation and filtered by user, 48 ms per call).
  const heads = await query<{ id: string; stored: number; delivered_cursor: number; conv_id: string | null; base_cursor: number | null; first_seq: number | null; last_seq: number | null }>(client,
    `SELECT u.id, u.head AS stored, coalesce(a.delivered_cursor, 0) AS delivered_cursor, r.conv_id, r.base_cursor, r.first_seq, c.last_seq
       FROM users u
       LEFT JOIN user_acks a ON a.user_id = u.id
       LEFT JOIN LATERAL (
         SELECT x.conv_id, x.base_cursor, x.first_seq FROM runs x
          WHERE x.user_id = u.id AND x.last_seq IS NULL LIMIT 1
       ) r ON true
       LEFT JOIN conversations c ON c.id = r.conv_id
      WHERE u.id = ANY($1::text[])`,
    [userIds],
  );
  const user = new Map(heads.rows.map((r) => {
    const run = r.conv_id === null ? null : { conv: r.conv_id, base: r.base_cursor!, first: r.first_seq! };
    return [r.id, { head: r.stored + (run ? r.last_seq! - run.first + 1 : 0), stored: r.stored, run, from: r.delivered_cursor, to: 0 }];
  }));
  const devices = new Map<string, { user: string; cursor: number }>();
  for (const a of batch) {
    const u = user.get(a.user);
    if (!u) continue;
    const cursor = Math.min(Math.max(0, a.cursor), u.head);
    u.to = Math.max(u.to, cursor);
    const d = devices.get(a.device);
    if (!d || d.cursor < cursor) devices.set(a.device, { user: a.user, cursor });
  }
  const moved = [...user].filter(([, u]) => u.to > u.from);
  // A range wholly inside the user's open run (every cursor above the stored head is in it) covers
  // that run's messages up to `to` and no row: answered without a read. The common case for a
  // large group's members, who ack one message of the run after another.
  const inRun: { user_id: string; conv_id: string; seq: number }[] = [];
  const scan: typeof moved = [];
  for (const m of moved) {
    const [id, u] = m;
    if (u.run && u.from >= u.stored) inRun.push({ user_id: id, conv_id: u.run.conv, seq: u.run.first + (u.to - u.run.base) });
    else scan.push(m);
  }
  const covered = scan.length === 0 ? [] : (await query<{ user_id: string; conv_id: string; seq: number }>(client,
    `SELECT e.user_id, e.conv_id, max(e.seq) AS seq
       FROM events e
       JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(user_id, lo, hi)
         ON e.user_id = v.user_id AND e.cursor > v.lo AND e.cursor <= v.hi
      WHERE e.kind = 'message'
      GROUP BY e.user_id, e.conv_id
     UNION ALL
     SELECT r.user_id, r.conv_id,
            max(r.first_seq + least(v.hi, coalesce(r.end_cursor, r.base_cursor + c.last_seq - r.first_seq)) - r.base_cursor)
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(user_id, lo, hi)
       JOIN runs r ON r.user_id = v.user_id AND (r.end_cursor > v.lo OR r.last_seq IS NULL) AND r.base_cursor <= v.hi
       JOIN conversations c ON c.id = r.conv_id
      GROUP BY r.user_id, r.conv_id`,
    [scan.map(([id]) => id), scan.map(([, u]) => u.from), scan.map(([, u]) => u.to)],
  )).rows;
  const devs = [...devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // The scan bound moves only for users who scanned: one inside its open run (from >= stored) keeps
  // answering from the run with the bound where it is, and once the run closes the scan from there
  // covers the run's rest (a lower bound is only more scanning). A large group's acks are nearly all
  // inside runs: ~1,000 fewer row writes per message.
  const acks = scan.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // One delivered move per member and conversation, the highest, in key order.
  const best = new Map<string, { conv: string; user: string; seq: number }>();
  for (const r of [...inRun, ...covered]) {
    const k = JSON.stringify([r.conv_id, r.user_id]);
    const b = best.get(k);
    if (!b || b.seq < r.seq) best.set(k, { conv: r.conv_id, user: r.user_id, seq: r.seq });
  }
  const moves = [...best].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  // Rows only acks write (devices, user_acks, deliveries), each set in key order, before any
  // conversation lock: appends never wait for them. Only members still active move.
  const { rows: advanced } = await query<{ conv_id: string }>(client,
    `WITH dev AS (
       UPDATE devices d SET acked = v.c
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(id, user_id, c)
        WHERE d.id = v.id AND d.user_id = v.user_id AND v.c > d.acked
     ), cur AS (
       INSERT INTO user_acks (user_id, delivered_cursor)
       SELECT * FROM unnest($4::text[], $5::bigint[]) AS v(user_id, c) ORDER BY 1
       ON CONFLICT (user_id) DO UPDATE SET delivered_cursor = excluded.delivered_cursor
        WHERE user_acks.delivered_cursor < excluded.delivered_cursor
     )
     INSERT INTO deliveries (conv_id, user_id, delivered)
     SELECT v.conv_id, v.user_id, v.seq
       FROM unnest($6::text[], $7::text[], $8::bigint[]) AS v(conv_id, user_id, seq)
       JOIN members m ON m.conv_id = v.conv_id AND m.user_id = v.user_id AND m.active AND m.delivered < v.seq
      ORDER BY 1, 2
     ON CONFLICT (conv_id, user_id) DO UPDATE SET delivered = excluded.delivered
      WHERE deliveries.delivered < excluded.delivered
     RETURNING conv_id`,
    [
      devs.map(([id]) => id), devs.map(([, d]) => d.user), devs.map(([, d]) => d.cursor),
      acks.map(([id]) => id), acks.map(([, u]) => u.to),
      moves.map((m) => m.conv), moves.map((m) => m.user), moves.map((m) => m.seq),
    ],
  );
  const convs = [...new Set(advanced.map((r) => r.conv_id))].sort();
  if (convs.length === 0) return new Map();
  // The minimums and the receipts under the conversations' locks, held only for that: one call
  // locks them, recomputes, and locks the receipts' recipients (parley_ack_settle, migration 4);
  // the log rows go with the COMMIT.
  const settled = await query<SettleRow>(client, 'SELECT * FROM parley_ack_settle($1::text[], $2::text[])', [convs, extra]);
  const held = new Map<string, number>();
  const { receipts, locked } = decodeSettle(settled.rows, [], held);
  return appendEvents(client, receipts, { held, locked }, { last: true });
}

export async function messageInfo(client: PoolClient, conv: ConversationId, seq: number) {
  const { rows } = await query<{ user_id: string; handle: string; delivered: boolean; read: boolean }>(client,
    `SELECT m.user_id, u.handle, greatest(m.delivered, coalesce(d.delivered, 0)) >= $2 AS delivered, m.read >= $2 AS read
       FROM members m JOIN users u ON u.id = m.user_id
       LEFT JOIN deliveries d ON d.conv_id = m.conv_id AND d.user_id = m.user_id
      WHERE m.conv_id = $1 AND m.active
      ORDER BY m.joined_at, m.user_id`,
    [conv, seq],
  );
  return rows.map((r) => ({ user: r.user_id as UserId, handle: r.handle, delivered: r.delivered, read: r.read }));
}
