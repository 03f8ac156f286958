/**
 * The rows of `parley_settle` (migration 4), the tail of a write that may move receipts: the
 * receipts to append and the users locked for the log append, with what was read under the locks.
 * Row kinds: 0 receipt (conversation, recipient, delivered, read); 1 locked user (id, head);
 * 2 open run (user, conversation, base cursor, first seq); 3 and 4 a conversation held (id,
 * last_seq): FOR SHARE for a run's conversation (3), FOR NO KEY UPDATE by an ack settle (4);
 * 9 a run's conversation another transaction holds (id): decodeSettle throws NeedsLocks.
 */
import type { ConversationId, UserId } from '@parley/protocol';
import { NeedsLocks } from './errors.ts';
import type { LockedUsers, PendingEvent } from './log.ts';
import type { OpenRun } from './runs.ts';

export interface SettleRow {
  o_k: number;
  o_s1: string;
  o_s2: string | null;
  /** Null only in kind 9. */
  o_n1: number;
  o_n2: number | null;
}

/** `lock`: the users the call was asked to lock. Held conversations are added to `held`. */
export function decodeSettle(rows: readonly SettleRow[], lock: readonly string[], held: Map<string, number>): { receipts: PendingEvent[]; locked: LockedUsers } {
  const receipts: PendingEvent[] = [];
  const asked = new Set<string>(lock);
  const heads = new Map<string, number>();
  const runs = new Map<string, OpenRun>();
  const elsewhere: string[] = [];
  for (const r of rows) {
    if (r.o_k === 0) {
      receipts.push({ user: r.o_s2! as UserId, e: { k: 'receipt', conv: r.o_s1 as ConversationId, delivered: r.o_n1, read: r.o_n2! } });
      asked.add(r.o_s2!);
    } else if (r.o_k === 1) heads.set(r.o_s1, r.o_n1);
    else if (r.o_k === 2) runs.set(r.o_s1, { conv: r.o_s2!, base: r.o_n1, first: r.o_n2! });
    else if (r.o_k === 9) elsewhere.push(r.o_s1);
    else held.set(r.o_s1, r.o_n1);
  }
  if (elsewhere.length > 0) throw new NeedsLocks(elsewhere);
  return { receipts, locked: { asked, heads, runs } };
}
