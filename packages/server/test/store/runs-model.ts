/**
 * The runs model check shared by the SQLite and PostgreSQL stores: the same random history — sends
 * to large and small conversations in mixed batches, several write calls per step, acks, reads,
 * members joining and leaving — applied to a store that keeps large groups in runs and to one that
 * never does. Every observable answer must be identical: what each call appended (live events
 * with their cursors), every user's log read back in pages, heads, receipts and message info.
 */
import assert from 'node:assert/strict';
import type { ConversationId, CursorEvent, DeviceId, UserId } from '@parley/protocol';
import type { Appended, NewMessage, Store } from '../../src/store/Store.ts';

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const plain = (a: Appended) => [...a].map(([u, evs]) => [u, evs]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));

async function fullLog(store: Store, user: UserId, page: number): Promise<CursorEvent[]> {
  const out: CursorEvent[] = [];
  for (let after = 0; ; ) {
    const evs = await store.readLog(user, after, page);
    if (evs.length === 0) return out;
    out.push(...evs);
    after = evs[evs.length - 1]!.c;
  }
}

/**
 * Applies one random history (seeded) to `runs` (large groups, >= 6 members, in runs) and `rows`
 * (never in runs), both empty (migrated here), and compares every answer. `concurrent`: each step's
 * calls are issued together (a store that serialises them in call order, as SQLite does);
 * otherwise one after the other (a pooled store would run them in any order). Closes both stores.
 */
export async function runsModelHistory(seed: number, steps: number, runs: Store, rows: Store, concurrent: boolean): Promise<void> {
  const both = [runs, rows];
  const rnd = prng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  try {
    for (const s of both) await s.migrate();
    const users = Array.from({ length: 9 }, (_, i) => `u${i}` as UserId);
    const devices = users.map((u) => `d-${u}` as DeviceId);
    for (const s of both) {
      for (const [i, u] of users.entries()) {
        await s.createUser({ id: u, handle: `h${i}`, passwordHash: 'x', createdAt: 1 });
        await s.createDevice({ id: devices[i]!, user: u, name: 'phone', refreshHash: 'r', createdAt: 1 });
      }
    }
    // Two large groups (>= 6 members: runs; members leaving and joining move them across the threshold), one small group and two direct conversations.
    const convs: { id: ConversationId; members: Set<UserId> }[] = [
      { id: 'g-big1' as ConversationId, members: new Set(users.slice(0, 7)) },
      { id: 'g-big2' as ConversationId, members: new Set(users.slice(3, 9)) },
      { id: 'g-small' as ConversationId, members: new Set(users.slice(0, 3)) },
    ];
    for (const s of both) {
      for (const c of convs) {
        await s.createConversation({ id: c.id, kind: 'group', name: c.id, createdAt: 1, by: [...c.members][0]!, members: [...c.members].map((u) => ({ user: u, admin: true })) });
      }
      await s.createConversation({ id: 'd-01' as ConversationId, kind: 'direct', name: '', createdAt: 1, by: users[0]!, members: [{ user: users[0]!, admin: false }, { user: users[1]!, admin: false }] });
      await s.createConversation({ id: 'd-48' as ConversationId, kind: 'direct', name: '', createdAt: 1, by: users[4]!, members: [{ user: users[4]!, admin: false }, { user: users[8]!, admin: false }] });
    }
    convs.push({ id: 'd-01' as ConversationId, members: new Set([users[0]!, users[1]!]) });
    convs.push({ id: 'd-48' as ConversationId, members: new Set([users[4]!, users[8]!]) });
    let cmid = 0;

    for (let step = 0; step < steps; step++) {
      // One transaction's worth of calls, issued together as the server does in one tick.
      const calls: ((s: Store) => Promise<unknown>)[] = [];
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) {
        const r = rnd();
        if (r < 0.55) {
          const batch: NewMessage[] = [];
          const size = 1 + Math.floor(rnd() * 5);
          for (let j = 0; j < size; j++) {
            const c = pick(convs);
            const from = rnd() < 0.9 && c.members.size > 0 ? pick([...c.members]) : pick(users);
            batch.push({ conv: c.id, from, cmid: `m${++cmid}`, kind: 'text', body: `b${cmid}`, ts: 1000 + cmid });
          }
          calls.push((s) => s.appendMessages(batch).then((res) => ({ outcomes: res.outcomes, appended: plain(res.appended) })));
        } else if (r < 0.8) {
          const acks = users.filter(() => rnd() < 0.5).map((u) => ({ user: u, device: devices[users.indexOf(u)]!, cursor: Math.floor(rnd() * 400) }));
          calls.push((s) => s.applyAcks(acks).then(plain));
        } else if (r < 0.9) {
          const c = pick(convs);
          const reads = [...c.members].filter(() => rnd() < 0.5).map((u) => ({ user: u, conv: c.id, seq: Math.floor(rnd() * 60) }));
          calls.push((s) => s.applyReads(reads).then(plain));
        } else {
          const c = pick(convs.slice(0, 3));
          const u = pick(users);
          if (c.members.has(u) && c.members.size > 2) {
            c.members.delete(u);
            calls.push((s) => s.removeMember(c.id, u, u, 'left').then(plain));
          } else if (!c.members.has(u)) {
            c.members.add(u);
            calls.push((s) => s.addMembers(c.id, [u], [...c.members][0]!, 100).then(plain));
          }
        }
      }
      const answer = (s: Store, call: (s: Store) => Promise<unknown>) => call(s).catch((e: { code?: string }) => `error ${e.code}`);
      const answers = async (s: Store) => {
        if (concurrent) return Promise.all(calls.map((call) => answer(s, call)));
        const out: unknown[] = [];
        for (const call of calls) out.push(await answer(s, call));
        return out;
      };
      const [a, b] = await Promise.all(both.map(answers));
      assert.deepEqual(a, b, `seed ${seed} step ${step}: the calls' answers differ`);
    }
    for (const u of users) {
      const [ha, hb] = await Promise.all(both.map((s) => s.head(u)));
      assert.equal(ha, hb, `seed ${seed}: head of ${u}`);
      for (const page of [1, 7, 500]) assert.deepEqual(await fullLog(runs, u, page), await fullLog(rows, u, page), `seed ${seed}: log of ${u}, pages of ${page}`);
      assert.equal((await fullLog(runs, u, 500)).length, ha, 'every cursor up to the head exactly once');
    }
    for (const c of convs) {
      // joinedAt is the wall clock of addMembers, the one field that differs between the two stores.
      const [ca, cb] = await Promise.all(both.map(async (s) => { const r = await s.conversation(c.id); return r && { ...r, members: r.members.map((m) => ({ ...m, joinedAt: 0 })) }; }));
      assert.deepEqual(ca, cb, `seed ${seed}: conversation ${c.id} (watermarks, receipts)`);
      for (let seq = 1; seq <= (ca?.lastSeq ?? 0); seq += 3) assert.deepEqual(await runs.messageInfo(c.id, seq), await rows.messageInfo(c.id, seq));
    }
  } finally {
    for (const s of both) await s.close();
  }
}

