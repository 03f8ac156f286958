/**
 * User event logs. A user's log is its event rows plus its runs (runs.ts): large groups' messages
 * held as stretches of cursors instead of one row per member. Appending takes each recipient's
 * `users` row lock and moves `head`, so cursors stay dense and strictly increasing across nodes:
 * the lock serialises every writer of one user's log until commit. Members extending an open run
 * on the conversation being appended to need no lock and no write.
 */
import type { Cursor, CursorEvent, LogEvent, UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { Appended } from '../Store.ts';
import { freeRunConv, planLog, type LogPlan, type OpenRun, type UserLogState } from './runs.ts';
import { toCursorEvent, type EventRow } from './rows.ts';
import { queryAndCommit } from './bundle.ts';
import { NeedsLocks } from './errors.ts';
import { query } from './prepared.ts';

export interface PendingEvent {
  user: UserId;
  e: LogEvent;
}

/** What the caller's transaction already holds when it appends (see runs.ts for why it matters). */
export interface LogScope {
  /** Conversations whose row this transaction has locked, each with its last_seq before this transaction's own messages. */
  held?: ReadonlyMap<string, number>;
  /** Held conversations whose message events may go into runs (large groups being appended to). */
  runConvs?: ReadonlySet<string>;
  /**
   * The open runs on `runConvs` per user, read by the caller under the lock (they cannot change
   * under it): users whose events all extend one of them need no lock and no write.
   */
  openOnHeld?: ReadonlyMap<string, OpenRun>;
  /** Users the caller has locked already (FOR NO KEY UPDATE), with what it read under the locks. */
  locked?: LockedUsers;
}

export interface LockedUsers {
  /** Every user the caller asked to lock (those that do not exist are in no other field). */
  asked: ReadonlySet<string>;
  /** `users.head` as each lock returned it. */
  heads: ReadonlyMap<string, number>;
  /** The open run of each locked user that has one, read after the locks. */
  runs: ReadonlyMap<string, OpenRun>;
}

export interface AppendOptions {
  /** This append is the transaction's last write: its statement carries the COMMIT (bundle.ts). */
  last?: boolean;
}

/** The open runs of these users (read after locking them: a user's runs change only under its lock). */
async function openRunsOf(client: PoolClient, users: readonly string[]): Promise<Map<string, OpenRun>> {
  const { rows } = await query<{ user_id: string; conv_id: string; base_cursor: number; first_seq: number }>(client,
    'SELECT user_id, conv_id, base_cursor, first_seq FROM runs WHERE user_id = ANY($1::text[]) AND last_seq IS NULL',
    [users],
  );
  return new Map(rows.map((r) => [r.user_id, { conv: r.conv_id, base: r.base_cursor, first: r.first_seq }]));
}

/**
 * Locks conversations not held yet FOR SHARE (enough to stop their appends) and records their
 * last_seq. The caller holds users' locks by now, so it does not wait for a conversation another
 * transaction holds (that would break the conversations-before-users order and can deadlock) but
 * throws NeedsLocks: every caller's transaction (PostgresStore) retries with those locked first.
 */
async function holdConvs(client: PoolClient, held: Map<string, number>, convs: Iterable<string>): Promise<void> {
  const more = [...new Set(convs)].filter((c) => !held.has(c));
  if (more.length === 0) return;
  const { rows } = await query<{ id: string; last_seq: number }>(client,
    'SELECT id, last_seq FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE SKIP LOCKED',
    [more],
  );
  for (const r of rows) held.set(r.id, r.last_seq);
  // A conversation that does not exist has no runs: only one held elsewhere can be missing.
  const missing = more.filter((c) => !held.has(c));
  if (missing.length > 0) throw new NeedsLocks(missing);
}

function byUserOf(events: readonly PendingEvent[]): Map<UserId, number[]> {
  const byUser = new Map<UserId, number[]>();
  events.forEach(({ user }, i) => {
    const list = byUser.get(user);
    if (list) list.push(i);
    else byUser.set(user, [i]);
  });
  return byUser;
}

/** The users appendEvents must lock for these events, in lock (id) order. */
export function usersToLock(events: readonly PendingEvent[], scope: LogScope): UserId[] {
  return needingLock(byUserOf(events), events, scope);
}

function needingLock(byUser: ReadonlyMap<UserId, readonly number[]>, events: readonly PendingEvent[], scope: LogScope): UserId[] {
  const runConvs = scope.runConvs ?? new Set<string>();
  const onHeld = scope.openOnHeld ?? new Map<string, OpenRun>();
  const need: UserId[] = [];
  for (const [user, indexes] of byUser) {
    const run = onHeld.get(user);
    if (!run || freeRunConv(indexes, events, runConvs) !== run.conv) need.push(user);
  }
  return need.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Appends events in the given order (per user) with a fixed number of statements whatever their
 * number: users whose events all extend their open run on a held conversation cost nothing; the
 * others are locked (in id order), their runs read afresh, and everything is written in one
 * statement. Events for users that do not exist are dropped.
 */
export async function appendEvents(client: PoolClient, events: readonly PendingEvent[], scope: LogScope = {}, opts: AppendOptions = {}): Promise<Appended> {
  if (events.length === 0) return new Map();
  const byUser = byUserOf(events);
  const held = new Map(scope.held ?? []);
  const runConvs = scope.runConvs ?? new Set<string>();
  const onHeld = scope.openOnHeld ?? new Map<string, OpenRun>();
  const state = new Map<string, UserLogState>();
  const need = needingLock(byUser, events, scope);
  const needSet = new Set<string>(need);
  for (const [user] of byUser) {
    const run = onHeld.get(user);
    if (run && !needSet.has(user)) state.set(user, { stored: run.base - 1, run });
  }
  if (need.length > 0) {
    const pre = scope.locked;
    if (pre && need.every((u) => pre.asked.has(u))) {
      // The caller locked them and read their runs under the locks; the conversations of those
      // runs are in `held`.
      for (const u of need) {
        const head = pre.heads.get(u);
        if (head !== undefined) state.set(u, { stored: head, run: pre.runs.get(u) ?? null });
      }
    } else {
      const { rows } = await query<{ id: string; head: number }>(client,
        'SELECT id, head FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE',
        [need],
      );
      const heads = new Map(rows.map((r) => [r.id, r.head]));
      const runs = await openRunsOf(client, need);
      await holdConvs(client, held, [...runs.values()].map((r) => r.conv));
      for (const u of need) {
        const head = heads.get(u);
        if (head !== undefined) state.set(u, { stored: head, run: runs.get(u) ?? null });
      }
    }
  }
  const plan = planLog({ byUser, events, state, lastSeqOf: (c) => held.get(c) ?? 0, runConvs });
  if (plan.closes.length + plan.opens.length + plan.heads.length + plan.rows.length > 0) await writePlan(client, plan, events, opts.last === true);
  return plan.appended;
}

async function writePlan(client: PoolClient, plan: LogPlan, events: readonly PendingEvent[], last: boolean): Promise<void> {
  const rows = { user: [] as string[], cursor: [] as number[], kind: [] as string[], conv: [] as (string | null)[], seq: [] as (number | null)[], payload: [] as (string | null)[] };
  for (const r of plan.rows) {
    const e = events[r.index]!.e;
    rows.user.push(r.user);
    rows.cursor.push(r.cursor);
    rows.kind.push(e.k);
    if (e.k === 'message') {
      rows.conv.push(e.msg.conv);
      rows.seq.push(e.msg.seq);
      rows.payload.push(null);
    } else {
      rows.conv.push(e.conv);
      rows.seq.push(null);
      rows.payload.push(JSON.stringify(e));
    }
  }
  const { closes, opens, heads } = plan;
  await (last ? queryAndCommit : query)(client,
    `WITH closed AS (
       UPDATE runs r SET last_seq = v.last_seq, end_cursor = v.end_cursor
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(user_id, base_cursor, last_seq, end_cursor)
        WHERE r.user_id = v.user_id AND r.base_cursor = v.base_cursor
     ), opened AS (
       INSERT INTO runs (user_id, base_cursor, conv_id, first_seq, last_seq, end_cursor)
       SELECT * FROM unnest($5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[])
     ), moved AS (
       UPDATE users u SET head = v.head FROM unnest($11::text[], $12::bigint[]) AS v(id, head) WHERE u.id = v.id
     )
     INSERT INTO events (user_id, cursor, kind, conv_id, seq, payload)
     SELECT e.user_id, e.cursor, e.kind, e.conv_id, e.seq, e.payload::jsonb
       FROM unnest($13::text[], $14::bigint[], $15::text[], $16::text[], $17::bigint[], $18::text[])
            AS e(user_id, cursor, kind, conv_id, seq, payload)`,
    [
      closes.map((c) => c.user), closes.map((c) => c.base), closes.map((c) => c.lastSeq), closes.map((c) => c.end),
      opens.map((o) => o.user), opens.map((o) => o.base), opens.map((o) => o.conv), opens.map((o) => o.first),
      opens.map((o) => o.lastSeq), opens.map((o) => o.end),
      heads.map((h) => h.user), heads.map((h) => h.head),
      rows.user, rows.cursor, rows.kind, rows.conv, rows.seq, rows.payload,
    ],
  );
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

/** A user's head: its stored head plus its open run, which ends at the conversation's last seq. */
export async function headOf(client: PoolClient, user: UserId): Promise<Cursor> {
  const { rows } = await query<{ head: number }>(client,
    `SELECT u.head + coalesce(c.last_seq - r.first_seq + 1, 0) AS head
       FROM users u
       LEFT JOIN runs r ON r.user_id = u.id AND r.last_seq IS NULL
       LEFT JOIN conversations c ON c.id = r.conv_id
      WHERE u.id = $1`,
    [user],
  );
  return rows[0]?.head ?? 0;
}

/**
 * Cursors after+1 .. after+limit (the log is dense), from event rows and from runs, in one
 * statement so both come from one snapshot.
 */
export async function readLog(client: PoolClient, user: UserId, after: Cursor, limit: number): Promise<CursorEvent[]> {
  const upTo = after + Math.max(0, limit);
  const { rows } = await query<EventRow>(client,
    `WITH r AS (
       SELECT r.conv_id, r.base_cursor, r.first_seq,
              coalesce(r.end_cursor, r.base_cursor + c.last_seq - r.first_seq) AS end_cursor
         FROM runs r JOIN conversations c ON c.id = r.conv_id
        WHERE r.user_id = $1 AND (r.end_cursor > $2 OR r.last_seq IS NULL) AND r.base_cursor <= $3
     )
     SELECT e.cursor, e.kind, e.conv_id, e.seq, e.payload,
            m.sender AS m_sender, m.cmid AS m_cmid, m.kind AS m_kind, m.body AS m_body, m.ts AS m_ts
       FROM events e
       LEFT JOIN messages m ON e.kind = 'message' AND m.conv_id = e.conv_id AND m.seq = e.seq
      WHERE e.user_id = $1 AND e.cursor > $2 AND e.cursor <= $3
     UNION ALL
     SELECT r.base_cursor + m.seq - r.first_seq, 'message', m.conv_id, m.seq, NULL,
            m.sender, m.cmid, m.kind, m.body, m.ts
       FROM r JOIN messages m ON m.conv_id = r.conv_id
        AND m.seq >= r.first_seq + greatest(r.base_cursor, $2 + 1) - r.base_cursor
        AND m.seq <= r.first_seq + least(r.end_cursor, $3) - r.base_cursor
     ORDER BY 1`,
    [user, after, upTo],
  );
  return rows.map(toCursorEvent);
}
