/**
 * Appending to user logs inside an open SQLite transaction. Events are collected first and written
 * by `flush()` (call it last, inside the same transaction): one `head` bump per user for all of
 * its events, then one insert per event. The bump runs inside the caller's write transaction
 * (BEGIN IMMEDIATE), so cursors stay dense even when several processes share the database file.
 * `appended` is what was written, for the caller to push live without reading it back.
 *
 * Large groups' messages may live in runs instead of rows (see runs.ts): the caller records those
 * as `virtual` events (already placed in the member's open run), and the first real event queued
 * for a user with an open run closes that run where the user's log leaves it.
 */
import type Database from 'better-sqlite3';
import type { ConversationId, CursorEvent, LogEvent, Message, UserId } from '@parley/protocol';
import type { Appended } from '../Store.ts';
import { Runs } from './runs.ts';

interface Pending {
  /** Row fields; `payload` is null for message events (the body lives once in `messages`). */
  kind: string;
  conv: string;
  seq: number | null;
  payload: string | null;
  e: LogEvent;
}

export class LogWriter {
  private readonly bumpHeads: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly pending = new Map<UserId, Pending[]>();
  /** Users whose open run closes at this flush, and the conversation seq it closes at. */
  private readonly closing = new Map<UserId, number>();
  /** Events placed in open runs by the caller (no row), per user in cursor order. */
  private readonly virtualEvents = new Map<UserId, CursorEvent[]>();
  private readonly lastSeqStmt: Database.Statement;
  runs: Runs;
  /**
   * The last seq of a conversation as of now in this call: the stored one, unless the caller
   * (appending messages) has allocated newer seqs that are not written back yet.
   */
  lastSeq: (conv: ConversationId) => number;

  /**
   * Two statements per flush whatever the fan-out (a 1,000-member group message is 1,000 log
   * rows): the rows travel as one JSON array and SQLite unpacks it with json_each, instead of two
   * statement calls per recipient from JavaScript.
   */
  constructor(private readonly prepare: (sql: string) => Database.Statement) {
    this.runs = new Runs(prepare);
    this.lastSeqStmt = prepare('SELECT last_seq FROM conversations WHERE id = ?');
    this.lastSeq = (conv) => (this.lastSeqStmt.get(conv) as { last_seq: number } | undefined)?.last_seq ?? 0;
    this.bumpHeads = prepare('UPDATE heads SET head = head + ? WHERE user_id IN (SELECT value FROM json_each(?)) RETURNING user_id AS id, head');
    this.insert = prepare(
      `INSERT INTO events (user_id, cursor, kind, conv_id, seq, payload)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)`,
    );
  }

  private push(user: UserId, p: Pending): void {
    const list = this.pending.get(user);
    if (list) {
      list.push(p);
      return;
    }
    this.pending.set(user, [p]);
    // The user's log leaves its open run here: the run ends with the last message of its
    // conversation before this event (for a message of that same conversation, the one before it).
    const run = this.runs.get(user);
    if (run) this.closing.set(user, p.kind === 'message' && p.conv === run.conv ? p.seq! - 1 : this.lastSeq(run.conv));
  }

  /** True when a real (row) event is queued for the user in this call. */
  hasPending(user: UserId): boolean {
    return this.pending.has(user);
  }

  /** An event the caller placed in the user's open run (cursor given, nothing to write). */
  virtual(user: UserId, ev: CursorEvent): void {
    const list = this.virtualEvents.get(user);
    if (list) list.push(ev);
    else this.virtualEvents.set(user, [ev]);
  }

  message(user: UserId, msg: Message): void {
    this.push(user, { kind: 'message', conv: msg.conv, seq: msg.seq, payload: null, e: { k: 'message', msg } });
  }

  event(user: UserId, e: Exclude<LogEvent, { k: 'message' }>, conv: ConversationId): void {
    this.push(user, { kind: e.k, conv, seq: null, payload: JSON.stringify(e), e });
  }

  /** Writes everything collected (per user in the order given) and returns it with its cursors. */
  flush(): Appended {
    const appended: Appended = new Map(this.virtualEvents);
    for (const [user, seq] of this.closing) this.runs.close(user, seq);
    this.virtualEvents.clear();
    this.closing.clear();
    this.runs = new Runs(this.prepare);
    if (this.pending.size === 0) return appended;
    // Users grouped by how many events they get: one head bump per distinct count.
    const byCount = new Map<number, UserId[]>();
    for (const [user, list] of this.pending) {
      const users = byCount.get(list.length);
      if (users) users.push(user);
      else byCount.set(list.length, [user]);
    }
    const heads = new Map<string, number>();
    for (const [n, users] of byCount) {
      for (const r of this.bumpHeads.all(n, JSON.stringify(users)) as { id: string; head: number }[]) heads.set(r.id, r.head);
    }
    const rows: (string | number | null)[][] = [];
    for (const [user, list] of this.pending) {
      const head = heads.get(user);
      if (head === undefined) throw new Error(`no such user ${user}`);
      let c = head - list.length;
      const out: CursorEvent[] = new Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const p = list[i]!;
        c += 1;
        rows.push([user, c, p.kind, p.conv, p.seq, p.payload]);
        out[i] = { c, e: p.e };
      }
      const before = appended.get(user);
      appended.set(user, before ? [...before, ...out] : out);
    }
    this.insert.run(JSON.stringify(rows));
    this.pending.clear();
    return appended;
  }
}
