/**
 * Message storage. appendMessages is a group commit: the whole batch in one transaction with a
 * fixed number of statements (find duplicates, lock conversations, read members and their open
 * runs, store the messages and lock the users whose logs need a write, then the log append),
 * whatever the batch size or group size.
 *
 * Seqs are dense because each conversation's row is locked (FOR NO KEY UPDATE) before its
 * last_seq is read and held until commit. Idempotency on (sender, cmid) is a unique index; a
 * racing insert of the same key fails with 23505 and the transaction is retried, finding the copy.
 *
 * Sending counts as having seen the conversation: the sender's own delivered/read watermarks
 * move to the new seq (otherwise the all-members minimum would wait for senders to read their
 * own messages). That can advance the minimum, so appends may produce receipts too.
 */
import type { ConversationId, Message, UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { AppendOutcome, AppendResult, NewMessage } from '../Store.ts';
import { appendEvents, usersToLock, type PendingEvent } from './log.ts';
import type { OpenRun } from './runs.ts';
import { recomputeReceipts } from './receipts.ts';
import { toMessage, type MessageRow } from './rows.ts';
import { query } from './prepared.ts';

interface ConvState {
  lastSeq: number;
  aggDelivered: number;
  aggRead: number;
  /** Active members, in the order read. */
  members: Set<string>;
  /** The batch's senders among them, with their watermarks as stored. */
  watermarks: Map<string, { delivered: number; read: number }>;
  /** Sender -> highest seq it sent in this batch. */
  senders: Map<string, number>;
  maxTs: number;
}

const keyOf = (m: { from: string; cmid: string }) => JSON.stringify([m.from, m.cmid]);

/**
 * `runThreshold`: conversations with at least this many active members put their message events
 * in runs (runs.ts), so members whose log gets nothing else cost no write.
 */
export async function appendMessages(client: PoolClient, batch: readonly NewMessage[], runThreshold: number): Promise<AppendResult> {
  if (batch.length === 0) return { outcomes: [], appended: new Map() };
  const convIds = [...new Set(batch.map((m) => m.conv))];
  // One round trip: the batch's copies already stored, then the conversations locked (in id order).
  // The copies are read with the statement's snapshot, taken before any wait for the locks: a copy
  // committed after it makes the insert fail on messages_idem, and the retried transaction finds it.
  // The locked rows are the latest versions (a lock that waited re-reads the row).
  const keys = [...new Map(batch.map((m) => [keyOf(m), m])).values()];
  const first = await query<{ dup: boolean; id: string; cmid: string | null; a: number; b: number; c: number | null }>(client,
    `WITH locked AS (
       SELECT id, last_seq, agg_delivered, agg_read FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE
     )
     SELECT false AS dup, id, NULL AS cmid, last_seq AS a, agg_delivered AS b, agg_read AS c FROM locked
     UNION ALL
     SELECT true, m.sender, m.cmid, m.seq, m.ts, NULL FROM messages m
       JOIN unnest($2::text[], $3::text[]) AS k(sender, cmid) ON m.sender = k.sender AND m.cmid = k.cmid`,
    [convIds, keys.map((m) => m.from), keys.map((m) => m.cmid)],
  );
  const locked = first.rows.filter((r) => !r.dup);
  const convs = new Map<string, ConvState>(
    locked.map((r) => [r.id, { lastSeq: r.a, aggDelivered: r.b, aggRead: r.c!, members: new Set(), watermarks: new Map(), senders: new Map(), maxTs: 0 }]),
  );
  // Under the lock, in one round trip: each active member with its open run on the conversation if
  // it has one (runs.ts; a, b: base cursor, first seq), and the watermarks of the batch's senders
  // only (a, b: delivered, read). A sender can lift the all-members minimum only if it sits on it,
  // so the other members' watermarks are not needed here (recomputeReceipts reads them when one
  // does). Two plain queries glued, so each keeps its own cheap plan.
  const candidates = [...new Map(batch.filter((m) => convs.has(m.conv)).map((m) => [`${m.conv}\u0000${m.from}`, m])).values()];
  const read = await query<{ conv_id: string; user_id: string; a: number | null; b: number | null; mark: boolean }>(client,
    `SELECT m.conv_id, m.user_id, r.base_cursor AS a, r.first_seq AS b, false AS mark
       FROM members m LEFT JOIN runs r ON r.conv_id = m.conv_id AND r.user_id = m.user_id AND r.last_seq IS NULL
      WHERE m.conv_id = ANY($1::text[]) AND m.active
     UNION ALL
     SELECT m.conv_id, m.user_id, greatest(m.delivered, coalesce(d.delivered, 0)), m.read, true
       FROM unnest($2::text[], $3::text[]) AS s(conv_id, user_id)
       JOIN members m ON m.conv_id = s.conv_id AND m.user_id = s.user_id AND m.active
       LEFT JOIN deliveries d ON d.conv_id = m.conv_id AND d.user_id = m.user_id`,
    [[...convs.keys()], candidates.map((m) => m.conv), candidates.map((m) => m.from)],
  );
  const openOnHeld = new Map<string, OpenRun>();
  for (const r of read.rows) {
    const conv = convs.get(r.conv_id);
    if (!conv) continue;
    if (r.mark) conv.watermarks.set(r.user_id, { delivered: r.a ?? 0, read: r.b ?? 0 });
    else {
      conv.members.add(r.user_id);
      if (r.a !== null && r.b !== null) openOnHeld.set(r.user_id, { conv: r.conv_id, base: r.a, first: r.b });
    }
  }

  // Copies' rows: id = sender, a = seq, b = ts.
  const seen = new Map<string, AppendOutcome>(
    first.rows.filter((r) => r.dup).map((r) => [keyOf({ from: r.id, cmid: r.cmid! }), { ok: true, seq: r.a, ts: r.b, duplicate: true }]),
  );
  const fresh: Message[] = [];
  const outcomes = batch.map((m): AppendOutcome => {
    const key = keyOf(m);
    const before = seen.get(key);
    if (before) return before.ok ? { ...before, duplicate: true } : before;
    const conv = convs.get(m.conv);
    let outcome: AppendOutcome;
    if (!conv) outcome = { ok: false, code: 'NOT_FOUND' };
    else if (!conv.members.has(m.from)) outcome = { ok: false, code: 'NOT_MEMBER' };
    else {
      const seq = ++conv.lastSeq;
      conv.senders.set(m.from, seq);
      conv.maxTs = Math.max(conv.maxTs, m.ts);
      fresh.push({ conv: m.conv, seq, from: m.from, cmid: m.cmid, kind: m.kind, body: m.body, ts: m.ts });
      outcome = { ok: true, seq, ts: m.ts, duplicate: false };
    }
    seen.set(key, outcome);
    return outcome;
  });
  if (fresh.length === 0) return { outcomes, appended: new Map() };

  const touched = [...convs].filter(([, c]) => c.senders.size > 0);
  const senderMoves = touched.flatMap(([id, c]) => [...c.senders].map(([user, seq]) => ({ id, user, seq })));
  const advanced: string[] = [];
  for (const [id, c] of touched) {
    // Every active member is at or above the stored minimums: only a sender sitting on one can
    // lift it (the same rule as the SQLite store's append).
    const atMin = [...c.senders.keys()].some((user) => {
      const w = c.watermarks.get(user);
      return !w || w.delivered <= c.aggDelivered || w.read <= c.aggRead;
    });
    if (atMin) advanced.push(id);
  }
  // Per conversation, fresh is in seq order; each active member (the sender too, for its other
  // devices) gets one message event per new message.
  const events: PendingEvent[] = [];
  for (const msg of fresh) {
    for (const user of convs.get(msg.conv)?.members ?? []) events.push({ user: user as UserId, e: { k: 'message', msg } });
  }
  const held = new Map(locked.map((r) => [r.id, r.a]));
  const runConvs = new Set(touched.filter(([, c]) => c.members.size >= runThreshold).map(([id]) => id));
  const scope = { held, runConvs, openOnHeld };
  // The users whose logs need a write are locked by the same statement that stores the messages
  // (one round trip less under the conversations' locks), unless receipts are due: their
  // recipients are known only after the recompute, and all users are locked together, in order.
  const lockNow = advanced.length === 0 ? usersToLock(events, scope) : [];
  const stored = await query<{ id: string; head: number }>(client,
    `WITH ins AS (
       INSERT INTO messages (conv_id, seq, sender, cmid, kind, body, ts)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
     ), conv AS (
       UPDATE conversations c SET last_seq = v.last_seq, active_at = greatest(c.active_at, v.ts)
         FROM unnest($8::text[], $9::bigint[], $10::bigint[]) AS v(id, last_seq, ts)
        WHERE c.id = v.id
     ), own AS (
       UPDATE members m SET delivered = greatest(m.delivered, v.seq), read = greatest(m.read, v.seq)
         FROM unnest($11::text[], $12::text[], $13::bigint[]) AS v(conv_id, user_id, seq)
        WHERE m.conv_id = v.conv_id AND m.user_id = v.user_id
     )
     SELECT id, head FROM users WHERE id = ANY($14::text[]) ORDER BY id FOR NO KEY UPDATE`,
    [
      fresh.map((m) => m.conv), fresh.map((m) => m.seq), fresh.map((m) => m.from), fresh.map((m) => m.cmid),
      fresh.map((m) => m.kind), fresh.map((m) => m.body), fresh.map((m) => m.ts),
      touched.map(([id]) => id), touched.map(([, c]) => c.lastSeq), touched.map(([, c]) => c.maxTs),
      senderMoves.map((s) => s.id), senderMoves.map((s) => s.user), senderMoves.map((s) => s.seq),
      lockNow,
    ],
  );
  const receipts = await recomputeReceipts(client, advanced);
  const lockedHeads = new Map(stored.rows.map((r) => [r.id, r.head]));
  return { outcomes, appended: await appendEvents(client, [...events, ...receipts], { ...scope, lockedHeads }) };
}

export async function history(
  client: PoolClient,
  conv: ConversationId,
  page: { before?: number; after?: number; limit: number },
): Promise<{ messages: Message[]; more: boolean }> {
  const limit = Math.max(0, Math.floor(page.limit));
  const cols = 'conv_id, seq, sender, cmid, kind, body, ts';
  let rows: MessageRow[];
  if (page.after !== undefined) {
    const upper = page.before ?? Number.MAX_SAFE_INTEGER;
    ({ rows } = await query<MessageRow>(client,
      `SELECT ${cols} FROM messages WHERE conv_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4`,
      [conv, page.after, upper, limit + 1],
    ));
  } else {
    const upper = page.before ?? Number.MAX_SAFE_INTEGER;
    ({ rows } = await query<MessageRow>(client,
      `SELECT ${cols} FROM messages WHERE conv_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
      [conv, upper, limit + 1],
    ));
  }
  const more = rows.length > limit;
  const messages = rows.slice(0, limit).map(toMessage);
  if (page.after === undefined) messages.reverse();
  return { messages, more };
}
