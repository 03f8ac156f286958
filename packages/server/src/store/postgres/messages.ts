/**
 * Message storage. appendMessages is a group commit: the whole batch in one transaction of three
 * round trips whatever the batch size or group size: BEGIN with the reads under the
 * conversations' locks (duplicates, members and their open runs), the writes with the receipts
 * and the user locks, then the log rows with the COMMIT. The first two are function calls
 * (migration 4) because what they read after taking a lock must come from a later snapshot than
 * the lock's, which within one plain statement it would not.
 *
 * Seqs are dense because each conversation's row is locked (FOR NO KEY UPDATE) before its
 * last_seq is read and held until commit. Idempotency on (sender, cmid) is a unique index, and
 * copies are rare (a client resending after a lost reply): a first attempt does not look for them
 * (160 index probes were ~85 % of the reads' time in a batch of 1:1 messages); the insert of a
 * copy, stored earlier or racing in from another node, fails with 23505 on messages_idem, the
 * transaction rolls back and the retry (`findCopies`) finds it and seqs nothing new for it.
 *
 * Sending counts as having seen the conversation: the sender's own delivered/read watermarks
 * move to the new seq (otherwise the all-members minimum would wait for senders to read their
 * own messages). That can advance the minimum, so appends may produce receipts too.
 */
import type { ConversationId, Message, UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { AppendOutcome, AppendResult, NewMessage } from '../Store.ts';
import { appendEvents, usersToLock, type PendingEvent } from './log.ts';
import { decodeSettle, type SettleRow } from './settle.ts';
import type { OpenRun } from './runs.ts';
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
 * in runs (runs.ts), so members whose log gets nothing else cost no write. `findCopies`: look for
 * stored copies (a retry). `extra`: conversations to lock with the batch's own, in id order (those
 * an earlier attempt found held elsewhere, NeedsLocks).
 */
export async function appendMessages(client: PoolClient, batch: readonly NewMessage[], runThreshold: number, findCopies: boolean, extra: readonly string[] = []): Promise<AppendResult> {
  if (batch.length === 0) return { outcomes: [], appended: new Map() };
  const convIds = [...new Set(batch.map((m) => m.conv))];
  // Round trip 1 (with the transaction's BEGIN): the conversations locked in id order, then,
  // each read after the locks (parley_append_prepare, migration 4): the batch's copies already
  // stored (when `findCopies`), each active member with its open run on the conversation if it
  // has one (runs.ts; n1, n2: base cursor, first seq), and the watermarks of the batch's senders
  // only (n1, n2: delivered, read). A sender can lift the all-members minimum only if it sits on
  // it, so the other members' watermarks are not needed here (the receipts recompute reads them
  // when one does). A copy not found makes the insert fail on messages_idem, and the retried
  // transaction finds it.
  const keys = findCopies ? [...new Map(batch.map((m) => [keyOf(m), m])).values()] : [];
  const candidates = [...new Map(batch.map((m) => [`${m.conv}\u0000${m.from}`, m])).values()];
  const first = await query<{ o_k: number; o_s1: string; o_s2: string | null; o_n1: number | null; o_n2: number | null; o_n3: number | null }>(client,
    'SELECT * FROM parley_append_prepare($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])',
    [convIds, extra, keys.map((m) => m.from), keys.map((m) => m.cmid), candidates.map((m) => m.conv), candidates.map((m) => m.from)],
  );
  const convs = new Map<string, ConvState>();
  const held = new Map<string, number>();
  const seen = new Map<string, AppendOutcome>();
  const openOnHeld = new Map<string, OpenRun>();
  for (const r of first.rows) {
    if (r.o_k === 0) {
      convs.set(r.o_s1, { lastSeq: r.o_n1!, aggDelivered: r.o_n2!, aggRead: r.o_n3!, members: new Set(), watermarks: new Map(), senders: new Map(), maxTs: 0 });
      held.set(r.o_s1, r.o_n1!);
    } else if (r.o_k === 4) {
      held.set(r.o_s1, r.o_n1!);
    } else if (r.o_k === 1) {
      seen.set(keyOf({ from: r.o_s1, cmid: r.o_s2! }), { ok: true, seq: r.o_n1!, ts: r.o_n2!, duplicate: true });
    } else {
      const conv = convs.get(r.o_s1);
      if (!conv) continue;
      const user = r.o_s2!;
      if (r.o_k === 3) conv.watermarks.set(user, { delivered: r.o_n1 ?? 0, read: r.o_n2 ?? 0 });
      else {
        conv.members.add(user);
        if (r.o_n1 !== null && r.o_n2 !== null) openOnHeld.set(user, { conv: r.o_s1, base: r.o_n1, first: r.o_n2 });
      }
    }
  }

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
  const runConvs = new Set(touched.filter(([, c]) => c.members.size >= runThreshold).map(([id]) => id));
  const scope = { held, runConvs, openOnHeld };
  // Round trip 2 (parley_append_store): the messages stored, last_seq and the senders' own
  // watermarks moved; receipts recomputed where due; then the users whose logs need a write
  // locked (those the message events need, and the receipts' recipients), their open runs and
  // the conversations of those runs (FOR SHARE) read under the locks.
  const lock = usersToLock(events, scope);
  const stored = await query<SettleRow>(client,
    `SELECT * FROM parley_append_store($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
       $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[])`,
    [
      fresh.map((m) => m.conv), fresh.map((m) => m.seq), fresh.map((m) => m.from), fresh.map((m) => m.cmid),
      fresh.map((m) => m.kind), fresh.map((m) => m.body), fresh.map((m) => m.ts),
      touched.map(([id]) => id), touched.map(([, c]) => c.lastSeq), touched.map(([, c]) => c.maxTs),
      senderMoves.map((s) => s.id), senderMoves.map((s) => s.user), senderMoves.map((s) => s.seq),
      lock, advanced, [...held.keys()],
    ],
  );
  const { receipts, locked } = decodeSettle(stored.rows, lock, held);
  // Round trip 3: the log rows, with the COMMIT (or the COMMIT alone when every member's event
  // only extends its open run).
  return { outcomes, appended: await appendEvents(client, [...events, ...receipts], { ...scope, locked }, { last: true }) };
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
