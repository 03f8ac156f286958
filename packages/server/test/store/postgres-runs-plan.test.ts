/**
 * Unit test of the PostgreSQL store's log planner (store/postgres/runs.ts): where each event of a
 * call goes, given each user's stored head and open run. No database: the store-level checks are
 * in postgres.test.ts (the runs model check and the conformance suite with runs everywhere).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConversationId, LogEvent, Message, UserId } from '@parley/protocol';
import type { PendingEvent } from '../../src/store/postgres/log.ts';
import { freeRunConv, planLog, type UserLogState } from '../../src/store/postgres/runs.ts';

const u = 'u1' as UserId;
const msg = (conv: string, seq: number): LogEvent => ({
  k: 'message',
  msg: { conv: conv as ConversationId, seq, from: 'x' as UserId, cmid: `${conv}-${seq}`, kind: 'text', body: '', ts: 0 } satisfies Message,
});
const receipt = (conv: string): LogEvent => ({ k: 'receipt', conv: conv as ConversationId, delivered: 1, read: 1 });

function plan(events: LogEvent[], state: UserLogState, lastSeq: Record<string, number>, runConvs: string[]) {
  const pending: PendingEvent[] = events.map((e) => ({ user: u, e }));
  return planLog({
    byUser: new Map([[u, pending.map((_, i) => i)]]),
    events: pending,
    state: new Map([[u, state]]),
    lastSeqOf: (c) => lastSeq[c] ?? 0,
    runConvs: new Set(runConvs),
  });
}

describe('PostgreSQL log plan (runs)', () => {
  it('messages extending the open run cost no write and keep the stored head', () => {
    // Run on g from cursor 11 = seq 5; g's last seq is 7, so the run ends at cursor 13.
    const p = plan([msg('g', 8), msg('g', 9)], { stored: 10, run: { conv: 'g', base: 11, first: 5 } }, { g: 7 }, ['g']);
    assert.deepEqual([p.closes, p.opens, p.rows, p.heads], [[], [], [], []]);
    assert.deepEqual(p.appended.get(u)?.map((e) => e.c), [14, 15]);
  });

  it('another event closes the run at the last message placed in it, then gets the next cursor', () => {
    const p = plan([msg('g', 8), receipt('g')], { stored: 10, run: { conv: 'g', base: 11, first: 5 } }, { g: 7 }, ['g']);
    assert.deepEqual(p.closes, [{ user: u, base: 11, lastSeq: 8, end: 14 }]);
    assert.deepEqual(p.rows, [{ index: 1, user: u, cursor: 15 }]);
    assert.deepEqual(p.heads, [{ user: u, head: 15 }]);
    assert.deepEqual(p.appended.get(u)?.map((e) => e.c), [14, 15]);
  });

  it('a run on a conversation not appended to here closes at that conversation\'s last seq', () => {
    const p = plan([msg('d', 3)], { stored: 10, run: { conv: 'g', base: 11, first: 5 } }, { g: 9 }, []);
    assert.deepEqual(p.closes, [{ user: u, base: 11, lastSeq: 9, end: 15 }]);
    assert.deepEqual(p.rows, [{ index: 0, user: u, cursor: 16 }]);
  });

  it('a message of another large group ends the old run and opens a new one after it', () => {
    const p = plan([msg('h', 1)], { stored: 10, run: { conv: 'g', base: 11, first: 5 } }, { g: 6, h: 0 }, ['h']);
    assert.deepEqual(p.closes, [{ user: u, base: 11, lastSeq: 6, end: 12 }]);
    assert.deepEqual(p.opens, [{ user: u, base: 13, conv: 'h', first: 1, lastSeq: null, end: null }]);
    // While open, users.head is the cursor before the run.
    assert.deepEqual(p.heads, [{ user: u, head: 12 }]);
    assert.deepEqual(p.appended.get(u)?.map((e) => e.c), [13]);
  });

  it('a run opened and ended in the same call is inserted closed; later messages become rows', () => {
    const p = plan([msg('g', 1), receipt('g'), msg('g', 2)], { stored: 4, run: null }, { g: 0 }, ['g']);
    assert.deepEqual(p.opens, [{ user: u, base: 5, conv: 'g', first: 1, lastSeq: 1, end: 5 }]);
    assert.deepEqual(p.rows.map((r) => r.cursor), [6, 7]);
    assert.deepEqual(p.heads, [{ user: u, head: 7 }]);
  });

  it('refuses a message that would leave a gap in the run', () => {
    assert.throws(() => plan([msg('g', 9)], { stored: 10, run: { conv: 'g', base: 11, first: 5 } }, { g: 7 }, ['g']), /next message is 9/);
  });

  it('drops the events of unknown users; freeRunConv names the one conversation all events extend', () => {
    const events: PendingEvent[] = [{ user: 'ghost' as UserId, e: receipt('g') }];
    const p = planLog({ byUser: new Map([['ghost' as UserId, [0]]]), events, state: new Map(), lastSeqOf: () => 0, runConvs: new Set() });
    assert.equal(p.appended.size, 0);
    const evs: PendingEvent[] = [msg('g', 1), msg('g', 2), msg('h', 1), receipt('g')].map((e) => ({ user: u, e }));
    assert.equal(freeRunConv([0, 1], evs, new Set(['g'])), 'g');
    assert.equal(freeRunConv([0, 2], evs, new Set(['g', 'h'])), null);
    assert.equal(freeRunConv([0, 3], evs, new Set(['g'])), null);
    assert.equal(freeRunConv([0], evs, new Set()), null);
  });
});
