/**
 * Conversations and membership. Every change locks the conversation row first (the lock order
 * is conversations, then users), so membership is stable while messages get their seqs and
 * receipts are computed. A member who leaves gets an event row, which closes its run on the
 * conversation (runs.ts) before the next message could extend it.
 */
import { ParleyError, type ConversationId, type UserId } from '@parley/protocol';
import type { PoolClient } from 'pg';
import type { Appended, ConversationSummary, NewConversation } from '../Store.ts';
import { isForeignKeyViolation } from './errors.ts';
import { appendEvents, type LogScope, type PendingEvent } from './log.ts';
import { recomputeReceipts } from './receipts.ts';
import { CONVERSATION_COLUMNS, toConversation, toMessage, type ConversationRow } from './rows.ts';
import { query } from './prepared.ts';

/** One key per unordered pair, so both orders and racing creators hit the same unique value. */
export function directKey(a: string, b: string): string {
  return JSON.stringify(a < b ? [a, b] : [b, a]);
}

/** Inserting members of users that do not exist fails the foreign key: report NOT_FOUND. */
async function guardUsers<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new ParleyError('NOT_FOUND', 'no such user');
    throw err;
  }
}

/**
 * `extra` (here and below): conversations to lock before anything else, those an earlier attempt
 * found held elsewhere when it had to close members' runs on them (NeedsLocks).
 */
export async function createConversation(client: PoolClient, conv: NewConversation, extra: readonly string[] = []) {
  const members = [...new Map(conv.members.map((m) => [m.user, m])).values()];
  const first = members[0]?.user;
  const second = members[1]?.user;
  let key: string | null = null;
  if (conv.kind === 'direct') {
    if (members.length !== 2 || conv.members.length !== 2 || first === undefined || second === undefined) {
      throw new ParleyError('INVALID', 'a direct conversation has exactly two distinct members');
    }
    key = directKey(first, second);
  }
  const held = lastSeqs(await lockConvs(client, extra));
  // ON CONFLICT waits for a racing creator of the same pair to commit, then yields to it.
  const inserted = await query(client,
    `INSERT INTO conversations (id, kind, name, direct_key, created_at, active_at)
     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (direct_key) DO NOTHING RETURNING id`,
    [conv.id, conv.kind, conv.kind === 'direct' ? '' : conv.name, key, conv.createdAt],
  );
  if (inserted.rowCount === 0) {
    const existing = await query<{ id: string }>(client, 'SELECT id FROM conversations WHERE direct_key = $1', [key]);
    const id = existing.rows[0]?.id;
    if (id === undefined) throw new ParleyError('UNAVAILABLE', 'direct conversation vanished; retry');
    return { id: id as ConversationId, created: false, appended: new Map() as Appended };
  }
  await guardUsers(
    query(client,
      `INSERT INTO members (conv_id, user_id, admin, joined_at)
       SELECT $1, u, a, $4 FROM unnest($2::text[], $3::boolean[]) AS v(u, a)`,
      [conv.id, members.map((m) => m.user), members.map((m) => m.admin), conv.createdAt],
    ),
  );
  const appended = await appendEvents(
    client,
    members.map((m) => ({ user: m.user, e: { k: 'conv', change: 'created', conv: conv.id, by: conv.by } })),
    { held },
  );
  return { id: conv.id, created: true, appended };
}

/** Locks conversations in id order (FOR NO KEY UPDATE), by id. */
async function lockConvs(client: PoolClient, ids: readonly string[]): Promise<Map<string, { last_seq: number; kind: string }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await query<{ id: string; last_seq: number; kind: string }>(client,
    'SELECT id, last_seq, kind FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE',
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

const lastSeqs = (locked: ReadonlyMap<string, { last_seq: number }>) => new Map([...locked].map(([id, r]) => [id, r.last_seq]));

/** Locks a group conversation (with `extra`, in id order); a direct one has fixed members and no name (FORBIDDEN). */
async function lockGroup(client: PoolClient, conv: ConversationId, extra: readonly string[]): Promise<{ lastSeq: number; active: UserId[]; scope: LogScope }> {
  const locked = await lockConvs(client, [conv, ...extra]);
  const held = lastSeqs(locked);
  const row = locked.get(conv);
  if (!row) throw new ParleyError('NOT_FOUND', 'no such conversation');
  if (row.kind !== 'group') throw new ParleyError('FORBIDDEN', 'a direct conversation has fixed members');
  const members = await query<{ user_id: string }>(client, 'SELECT user_id FROM members WHERE conv_id = $1 AND active ORDER BY joined_at, user_id', [conv]);
  return { lastSeq: row.last_seq, active: members.rows.map((r) => r.user_id as UserId), scope: { held } };
}

const convEvent = (user: UserId, change: 'joined' | 'left' | 'removed' | 'members' | 'renamed', conv: ConversationId, by: UserId): PendingEvent => ({
  user,
  e: { k: 'conv', change, conv, by },
});

/**
 * New members start with watermarks at the current lastSeq: history before they joined is not
 * unread for them, and the all-members minimum (what senders see) never moves backwards.
 */
export async function addMembers(client: PoolClient, conv: ConversationId, users: readonly UserId[], by: UserId, maxMembers: number, extra: readonly string[] = []): Promise<Appended> {
  const { lastSeq, active, scope } = await lockGroup(client, conv, extra);
  const isActive = new Set<string>(active);
  const added = [...new Set(users)].filter((u) => !isActive.has(u));
  if (added.length === 0) return new Map();
  if (active.length + added.length > maxMembers) throw new ParleyError('GROUP_FULL');
  await guardUsers(
    query(client,
      `INSERT INTO members (conv_id, user_id, admin, active, delivered, read, joined_at)
       SELECT $1, u, false, true, $3, $3, $4 FROM unnest($2::text[]) AS u
       ON CONFLICT (conv_id, user_id) DO UPDATE
         SET active = true, admin = false, joined_at = excluded.joined_at,
             delivered = greatest(members.delivered, excluded.delivered), read = greatest(members.read, excluded.read)`,
      [conv, added, lastSeq, Date.now()],
    ),
  );
  return appendEvents(client, [
    ...added.map((u) => convEvent(u, 'joined', conv, by)),
    ...active.map((u) => convEvent(u, 'members', conv, by)),
  ], scope);
}

/** Leaving can advance the all-members minimum (the one who left may have lagged): receipts follow. */
export async function removeMember(client: PoolClient, conv: ConversationId, user: UserId, by: UserId, change: 'left' | 'removed', extra: readonly string[] = []): Promise<Appended> {
  const { active, scope } = await lockGroup(client, conv, extra);
  if (!active.includes(user)) throw new ParleyError('NOT_MEMBER');
  await query(client, 'UPDATE members SET active = false, admin = false WHERE conv_id = $1 AND user_id = $2', [conv, user]);
  const receipts = await recomputeReceipts(client, [conv]);
  return appendEvents(client, [
    convEvent(user, change, conv, by),
    ...active.filter((u) => u !== user).map((u) => convEvent(u, 'members', conv, by)),
    ...receipts,
  ], scope);
}

/** Appends `members` to every active member when the flag changed; nothing when it already had it. */
export async function setAdmin(client: PoolClient, conv: ConversationId, user: UserId, admin: boolean, by: UserId, extra: readonly string[] = []): Promise<Appended> {
  const { active, scope } = await lockGroup(client, conv, extra);
  if (!active.includes(user)) throw new ParleyError('NOT_MEMBER');
  const changed = await query(client, 'UPDATE members SET admin = $3 WHERE conv_id = $1 AND user_id = $2 AND admin <> $3', [conv, user, admin]);
  if (changed.rowCount === 0) return new Map();
  return appendEvents(client, active.map((u) => convEvent(u, 'members', conv, by)), scope);
}

/** Appends `renamed` to every active member when the name changed. */
export async function rename(client: PoolClient, conv: ConversationId, name: string, by: UserId, extra: readonly string[] = []): Promise<Appended> {
  const { active, scope } = await lockGroup(client, conv, extra);
  const changed = await query(client, 'UPDATE conversations SET name = $2 WHERE id = $1 AND name <> $2', [conv, name]);
  if (changed.rowCount === 0) return new Map();
  return appendEvents(client, active.map((u) => convEvent(u, 'renamed', conv, by)), scope);
}

interface SummaryRow extends ConversationRow {
  unread: number;
  lm_seq: number | null;
  lm_sender: string;
  lm_cmid: string;
  lm_kind: string;
  lm_body: string;
  lm_ts: number;
}

/** Active conversations of `user` (optionally one), most recently active first. */
export async function summaries(client: PoolClient, user: UserId, only?: ConversationId): Promise<ConversationSummary[]> {
  const { rows } = await query<SummaryRow>(client,
    `SELECT ${CONVERSATION_COLUMNS},
            lm.seq AS lm_seq, lm.sender AS lm_sender, lm.cmid AS lm_cmid, lm.kind AS lm_kind, lm.body AS lm_body, lm.ts AS lm_ts,
            (SELECT count(*) FROM messages x WHERE x.conv_id = c.id AND x.seq > me.read AND x.sender <> me.user_id) AS unread
       FROM members me
       JOIN conversations c ON c.id = me.conv_id
       LEFT JOIN messages lm ON lm.conv_id = c.id AND lm.seq = c.last_seq
      WHERE me.user_id = $1 AND me.active AND ($2::text IS NULL OR c.id = $2)
      ORDER BY c.active_at DESC, c.id`,
    [user, only ?? null],
  );
  return rows.map((r) => ({
    ...toConversation(r),
    unread: r.unread,
    lastMessage:
      r.lm_seq === null
        ? null
        : toMessage({ conv_id: r.id, seq: r.lm_seq, sender: r.lm_sender, cmid: r.lm_cmid, kind: r.lm_kind, body: r.lm_body, ts: r.lm_ts }),
  }));
}
