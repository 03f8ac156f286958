/**
 * Message runs in the PostgreSQL store: where each of a call's log events goes, worked out in
 * memory from each user's stored head and open run (no I/O here; log.ts reads and writes).
 *
 * A run says "cursors base, base+1, ... of this user are the messages first_seq, first_seq+1, ...
 * of conversation C" (the same model as the SQLite store's, sqlite/runs.ts). While a member's log
 * receives nothing but C's messages, each message of C extends the member's open run implicitly
 * (the run ends at C's last_seq), so a message to a large group costs no per-member write. The
 * run is closed (its end recorded) when anything else enters the member's log.
 *
 * Invariants (per user): at most one open run (`last_seq IS NULL`); while it is open
 * `users.head = base_cursor - 1` and the effective head is `users.head + (conversations.last_seq -
 * first_seq + 1)`; once closed, `end_cursor` is the cursor of its last message. Runs and event rows
 * never overlap, and together cover every cursor from 1 to the head exactly once.
 *
 * Locking (several nodes write at once): a user's runs and `users.head` change only under the
 * user's row lock; an open run on C grows only under C's row lock (C's appends), so closing it
 * needs C locked too (FOR SHARE is enough), and its end is C's last_seq as of that lock.
 */
import type { CursorEvent, UserId } from '@parley/protocol';
import type { PendingEvent } from './log.ts';

export interface OpenRun {
  conv: string;
  base: number;
  first: number;
}

/** A user as stored when the call starts: `users.head` and its open run, if any. */
export interface UserLogState {
  stored: number;
  run: OpenRun | null;
}

export interface LogPlan {
  /** Runs that were open before the call and end in it. */
  closes: { user: string; base: number; lastSeq: number; end: number }[];
  /** Runs the call starts; `lastSeq`/`end` are set when it ends within the same call. */
  opens: { user: string; base: number; conv: string; first: number; lastSeq: number | null; end: number | null }[];
  /** Event rows to insert: the pending event at `index` gets `cursor`. */
  rows: { index: number; user: string; cursor: number }[];
  /** New `users.head` of users whose stored head changed. */
  heads: { user: string; head: number }[];
  /** What the call appended, per user in cursor order. */
  appended: Map<UserId, CursorEvent[]>;
}

export interface PlanInput {
  /** Each user's events in log order, as indexes into `events`. */
  byUser: ReadonlyMap<UserId, readonly number[]>;
  events: readonly PendingEvent[];
  state: ReadonlyMap<string, UserLogState>;
  /** A conversation's last seq before this call's own messages (the caller holds its row lock). */
  lastSeqOf: (conv: string) => number;
  /** Conversations whose message events in this call may go into runs. */
  runConvs: ReadonlySet<string>;
}

/** The conversation a user's events would all extend without a write, or null. */
export function freeRunConv(indexes: readonly number[], events: readonly PendingEvent[], runConvs: ReadonlySet<string>): string | null {
  let conv: string | null = null;
  for (const i of indexes) {
    const e = events[i]!.e;
    if (e.k !== 'message' || !runConvs.has(e.msg.conv) || (conv !== null && conv !== e.msg.conv)) return null;
    conv = e.msg.conv;
  }
  return conv;
}

export function planLog(input: PlanInput): LogPlan {
  const plan: LogPlan = { closes: [], opens: [], rows: [], heads: [], appended: new Map() };
  for (const [user, indexes] of input.byUser) {
    const st = input.state.get(user);
    if (!st) continue; // no such user: its events are dropped
    planUser(user, indexes, st, input, plan);
  }
  return plan;
}

function planUser(user: UserId, indexes: readonly number[], st: UserLogState, input: PlanInput, plan: LogPlan): void {
  const out: CursorEvent[] = [];
  let stored = st.stored;
  let run = st.run;
  /** The run was open before this call (a close updates it) or opened here (an insert). */
  let opened: LogPlan['opens'][number] | null = null;
  /** Seq of the last message in the open run. */
  let runEnd = run ? input.lastSeqOf(run.conv) : 0;
  let rows = 0;
  const close = () => {
    if (!run) return;
    const end = run.base + runEnd - run.first;
    if (opened) {
      opened.lastSeq = runEnd;
      opened.end = end;
    } else plan.closes.push({ user, base: run.base, lastSeq: runEnd, end });
    stored = end;
    run = null;
    opened = null;
  };
  for (const i of indexes) {
    const e = input.events[i]!.e;
    if (rows === 0 && e.k === 'message' && input.runConvs.has(e.msg.conv)) {
      if (!run || run.conv !== e.msg.conv) {
        close();
        run = { conv: e.msg.conv, base: stored + 1, first: e.msg.seq };
        opened = { user, base: run.base, conv: run.conv, first: run.first, lastSeq: null, end: null };
        plan.opens.push(opened);
      } else if (e.msg.seq !== runEnd + 1) {
        throw new Error(`run of ${user} on ${run.conv} ends at ${runEnd}, next message is ${e.msg.seq}`);
      }
      runEnd = e.msg.seq;
      out.push({ c: run.base + e.msg.seq - run.first, e });
      continue;
    }
    if (rows === 0) close();
    rows++;
    const cursor = stored + rows;
    plan.rows.push({ index: i, user, cursor });
    out.push({ c: cursor, e });
  }
  const head = run ? run.base - 1 : stored + rows;
  if (head !== st.stored) plan.heads.push({ user, head });
  if (out.length > 0) plan.appended.set(user, out);
}
