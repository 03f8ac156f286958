/**
 * SQLite specifics beyond the Store conformance suite: the group commit of one tick's write calls
 * (a failing call rolls back alone) and two connections writing one database file at the same
 * time (a writer thread and the main thread, as two processes of `--workers N` would): seqs and
 * cursors stay dense, nothing is lost or duplicated.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyError, type ConversationId, type UserId } from '@parley/protocol';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import { SqliteWorkerStore } from '../../src/store/SqliteWorkerStore.ts';

describe('SqliteStore on a shared file', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-shared-'));
    path = join(dir, 'parley.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function setup(store: SqliteStore | SqliteWorkerStore): Promise<{ a: UserId; b: UserId; conv: ConversationId }> {
    await store.migrate();
    const [a, b] = ['u_a', 'u_b'] as UserId[];
    for (const u of [a, b]) await store.createUser({ id: u!, handle: u!, passwordHash: 'x', createdAt: 1 });
    const { id } = await store.createConversation({
      id: 'c_1' as ConversationId, kind: 'direct', name: '', createdAt: 1, by: a!,
      members: [{ user: a!, admin: false }, { user: b!, admin: false }],
    });
    return { a: a!, b: b!, conv: id };
  }

  it('calls of one tick share a commit, and a failing one rolls back alone', async () => {
    const store = new SqliteStore({ path });
    try {
      const { a, b, conv } = await setup(store);
      const group = 'g_1' as ConversationId;
      await store.createConversation({ id: group, kind: 'group', name: 'g', createdAt: 1, by: a, members: [{ user: a, admin: true }, { user: b, admin: false }] });
      const [dupUser, sent, leave, newUser, ghost] = await Promise.allSettled([
        store.createUser({ id: 'u_c' as UserId, handle: 'U_A', passwordHash: 'x', createdAt: 2 }),
        store.appendMessages([{ conv, from: a, cmid: 'm1', kind: 'text', body: 'hi', ts: 2 }]),
        store.removeMember(conv, b, b, 'left'),
        store.createUser({ id: 'u_d' as UserId, handle: 'dee', passwordHash: 'x', createdAt: 2 }),
        // Fails after writing member rows (the log append finds no such user): they must go too.
        store.addMembers(group, ['u_ghost' as UserId], a, 100),
      ]);
      assert.equal(ghost.status, 'rejected');
      assert.deepEqual((await store.memberIds(group)).sort(), [a, b]);
      assert.equal(await store.isMember(group, 'u_ghost' as UserId), false);
      assert.equal(dupUser.status, 'rejected');
      assert.equal(((dupUser as PromiseRejectedResult).reason as ParleyError).code, 'HANDLE_TAKEN');
      assert.equal(leave.status, 'rejected', 'a direct conversation has fixed members');
      assert.equal(sent.status, 'fulfilled');
      assert.equal(newUser.status, 'fulfilled');
      assert.deepEqual((await store.history(conv, { limit: 10 })).messages.map((m) => m.body), ['hi']);
      assert.equal((await store.userByHandle('dee'))?.id, 'u_d');
      assert.equal(await store.userByHandle('u_c'), null);
      assert.deepEqual((await store.conversation(conv))?.members.map((m) => m.user).sort(), [a, b]);
    } finally {
      await store.close();
    }
  });

  it('a writer thread and the main thread append to one conversation: dense seqs and cursors, each message once', async () => {
    const worker = new SqliteWorkerStore({ path });
    const main = new SqliteStore({ path });
    try {
      const { a, b, conv } = await setup(worker);
      const rounds = 20;
      const per = 10;
      const sends: Promise<unknown>[] = [];
      for (let r = 0; r < rounds; r++) {
        const batch = (who: UserId, side: string) =>
          Array.from({ length: per }, (_, i) => ({ conv, from: who, cmid: `${side}-${r}-${i}`, kind: 'text', body: `${side} ${r} ${i}`, ts: 10 + r }));
        sends.push(worker.appendMessages(batch(a, 'w')), main.appendMessages(batch(b, 'm')));
        // A retry of an earlier batch through the other connection stores nothing new.
        if (r > 0) sends.push(main.appendMessages(batch(a, 'w').slice(0, 3).map((m) => ({ ...m, cmid: `w-${r - 1}-${0}` }))));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(sends);
      const all = (await main.history(conv, { after: 0, limit: 1000 })).messages;
      assert.equal(all.length, 2 * rounds * per);
      assert.deepEqual(all.map((m) => m.seq), all.map((_, i) => i + 1));
      assert.equal(new Set(all.map((m) => `${m.from}/${m.cmid}`)).size, all.length);
      for (const u of [a, b]) {
        const log = await main.readLog(u, 0, 1000);
        assert.deepEqual(log.map((e) => e.c), log.map((_, i) => i + 1), `${u}'s cursors are dense`);
        const seqs = log.flatMap((e) => (e.e.k === 'message' ? [e.e.msg.seq] : []));
        assert.deepEqual(seqs, all.map((m) => m.seq), `${u}'s log has every message once, in order`);
        assert.equal(await worker.head(u), log.length);
      }
    } finally {
      await main.close();
      await worker.close();
    }
  });
});
