/**
 * Appending a batch of messages inside an open SQLite write transaction (BEGIN IMMEDIATE), in a
 * handful of statements per batch rather than four or five per message: one idempotency lookup
 * and one insert for the whole batch (JSON arrays unpacked by json_each), then one read and one
 * update per conversation to allocate its seqs. The conversation's last_seq is read inside the
 * same write transaction that writes it back, so seqs stay dense when several processes share
 * the file; nothing read here outlives the call.
 *
 * Conversations with at least `runThreshold` members put their message events in runs (runs.ts):
 * a member whose open run is on this conversation gets the message with no write of its own.
 */
import type Database from 'better-sqlite3';
import type { ConversationId, Message, UserId } from '@parley/protocol';
import type { AppendOutcome, NewMessage } from '../Store.ts';
import type { LogWriter } from './log.ts';

interface ConvState {
  last: number;
  activeAt: number;
  aggDelivered: number;
  aggRead: number;
  members: UserId[] | null;
  /** Members' runs loaded (large conversations, once per batch). */
  runsLoaded?: boolean;
}

/**
 * A large group's message: each member whose log has nothing else queued in this call extends
 * (or opens) its run on this conversation; a member with queued rows gets a row too, so its log
 * stays in order.
 */
function fanOutToRuns(log: LogWriter, conv: ConvState, members: readonly UserId[], msg: Message): void {
  const runs = log.runs;
  if (!conv.runsLoaded) {
    runs.loadMembers(msg.conv);
    conv.runsLoaded = true;
  }
  const e = { k: 'message' as const, msg };
  for (const u of members) {
    if (log.hasPending(u)) {
      log.message(u, msg);
      continue;
    }
    let run = runs.get(u);
    if (!run || run.conv !== msg.conv) {
      const head = run ? runs.close(u, log.lastSeq(run.conv)) : runs.storedHead(u);
      run = runs.open(u, msg.conv, msg.seq, head);
    }
    log.virtual(u, { c: run.base + msg.seq - run.first, e });
  }
}

/**
 * Returns one outcome per input message, queues the log events on `log`, moves each sender's own
 * watermarks to its last message, and returns the conversations whose all-members minimum may have
 * moved (a sender was sitting on it) for the caller to settle.
 */
export function appendBatch(
  prepare: (sql: string) => Database.Statement,
  batch: readonly NewMessage[],
  log: LogWriter,
  activeUsers: (conv: ConversationId) => UserId[],
  runThreshold: number,
): { outcomes: AppendOutcome[]; touched: Set<ConversationId> } {
  const key = (from: string, cmid: string) => `${from}\u0000${cmid}`;
  const known = new Map<string, { seq: number; ts: number }>();
  const dups = prepare(
    `SELECT sender, cmid, seq, ts FROM messages
      WHERE (sender, cmid) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
  ).all(JSON.stringify(batch.map((m) => [m.from, m.cmid]))) as { sender: string; cmid: string; seq: number; ts: number }[];
  for (const d of dups) known.set(key(d.sender, d.cmid), { seq: d.seq, ts: d.ts });

  const convRow = prepare('SELECT last_seq, active_at, agg_delivered, agg_read FROM conversations WHERE id = ?');
  const membership = prepare('SELECT active, delivered, read FROM members WHERE conv_id = ? AND user_id = ?');
  const convs = new Map<string, ConvState | null>();
  const senders = new Map<string, { conv: ConversationId; from: UserId; active: boolean; atMin: boolean; seq: number }>();
  const rows: (string | number)[][] = [];
  const touched = new Set<ConversationId>();
  const outcomes: AppendOutcome[] = [];
  // Seqs allocated here are written back only at the end: runs closing meanwhile must see them.
  const storedLast = log.lastSeq;
  log.lastSeq = (c) => convs.get(c)?.last ?? storedLast(c);

  for (const m of batch) {
    const k = key(m.from, m.cmid);
    const dup = known.get(k);
    if (dup) {
      outcomes.push({ ok: true, seq: dup.seq, ts: dup.ts, duplicate: true });
      continue;
    }
    let conv = convs.get(m.conv);
    if (conv === undefined) {
      const r = convRow.get(m.conv) as { last_seq: number; active_at: number; agg_delivered: number; agg_read: number } | undefined;
      conv = r ? { last: r.last_seq, activeAt: r.active_at, aggDelivered: r.agg_delivered, aggRead: r.agg_read, members: null } : null;
      convs.set(m.conv, conv);
    }
    if (!conv) {
      outcomes.push({ ok: false, code: 'NOT_FOUND' });
      continue;
    }
    const sk = `${m.conv}\u0000${m.from}`;
    let sender = senders.get(sk);
    if (!sender) {
      const mem = membership.get(m.conv, m.from) as { active: number; delivered: number; read: number } | undefined;
      const active = mem?.active === 1;
      // Every active member is at or above the stored minimum; only one sitting on it can lift it.
      const atMin = active && (mem.delivered <= conv.aggDelivered || mem.read <= conv.aggRead);
      senders.set(sk, (sender = { conv: m.conv, from: m.from, active, atMin, seq: 0 }));
    }
    if (!sender.active) {
      outcomes.push({ ok: false, code: 'NOT_MEMBER' });
      continue;
    }
    const seq = ++conv.last;
    conv.activeAt = m.ts;
    sender.seq = seq;
    if (sender.atMin) touched.add(m.conv);
    known.set(k, { seq, ts: m.ts });
    rows.push([m.conv, seq, m.from, m.cmid, m.kind, m.body, m.ts]);
    const members = (conv.members ??= activeUsers(m.conv));
    const msg: Message = { conv: m.conv, seq, from: m.from, cmid: m.cmid, kind: m.kind, body: m.body, ts: m.ts };
    if (members.length >= runThreshold) fanOutToRuns(log, conv, members, msg);
    else for (const u of members) log.message(u, msg);
    outcomes.push({ ok: true, seq, ts: m.ts, duplicate: false });
  }
  if (rows.length === 0) return { outcomes, touched };

  prepare(
    `INSERT INTO messages (conv_id, seq, sender, cmid, kind, body, ts)
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 FROM json_each(?)`,
  ).run(JSON.stringify(rows));
  const setConv = prepare('UPDATE conversations SET last_seq = ?, active_at = ? WHERE id = ?');
  for (const [id, c] of convs) if (c && c.members) setConv.run(c.last, c.activeAt, id);
  const own = prepare('UPDATE members SET delivered = MAX(delivered, ?), read = MAX(read, ?) WHERE conv_id = ? AND user_id = ?');
  for (const s of senders.values()) if (s.seq > 0) own.run(s.seq, s.seq, s.conv, s.from);
  return { outcomes, touched };
}
