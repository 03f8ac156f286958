/**
 * Runs the Store conformance suite against PostgreSQL (PARLEY_TEST_PG, default
 * postgres://postgres@127.0.0.1:5432/test), each test in its own fresh schema
 * `parley_test_<random>`, dropped afterwards. Adds what only a shared database can show: two
 * stores (two pools, as two nodes) writing one conversation at once, concurrent migrations, and
 * UNAVAILABLE when the server cannot be reached.
 *
 * Unreachable PostgreSQL skips the file, except with CI=true, where it fails.
 */
import { after, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ConversationId, DeviceId, UserId } from '@parley/protocol';
import { PostgresStore } from '../../src/store/PostgresStore.ts';
import { PostgresWorkerStore } from '../../src/store/PostgresWorkerStore.ts';
import type { Store } from '../../src/store/Store.ts';
import { runsModelHistory } from './runs-model.ts';
import { storeSuite } from './suite.ts';

const URL = process.env.PARLEY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function pgSkip(): Promise<string | false> {
  const probe = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 2000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.query('SELECT 1');
    return false;
  } catch (err) {
    const reason = `PostgreSQL unreachable at ${URL}: ${(err as Error).message}`;
    if (process.env.CI === 'true') {
      test('PostgreSQL is reachable (required when CI=true)', () => {
        throw new Error(reason);
      });
    }
    return reason;
  } finally {
    await probe.end().catch(() => {});
  }
}

const freshSchema = () => `parley_test_${randomBytes(6).toString('hex')}`;

const skip = await pgSkip();
if (skip !== false) {
  describe('PostgresStore', { skip }, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  const admin = new pg.Pool({ connectionString: URL, max: 2 });
  admin.on('error', () => {});
  after(() => admin.end());
  const dropSchema = async (schema: string) => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  };

  /** The conformance suite on stores made by `make`, each in a fresh schema dropped afterwards. */
  const schemas = new Map<Store, string>();
  const pgSuite = (name: string, make: (schema: string) => Store) =>
    storeSuite(
      name,
      async () => {
        const schema = freshSchema();
        const store = make(schema);
        schemas.set(store, schema);
        return store;
      },
      async (store) => {
        const schema = schemas.get(store);
        schemas.delete(store);
        if (schema) await dropSchema(schema);
      },
    );
  pgSuite('PostgresStore', (schema) => new PostgresStore({ connectionString: URL, schema, max: 5 }));
  pgSuite('PostgresStore (runs for every conversation)', (schema) => new PostgresStore({ connectionString: URL, schema, max: 5, runThreshold: 2 }));
  pgSuite('PostgresWorkerStore (the client in a worker thread)', (schema) => new PostgresWorkerStore({ connectionString: URL, schema, max: 5 }));

  describe('PostgreSQL runs: same answers as plain log rows', () => {
    for (const seed of [1, 2, 3, 4]) {
      it(`random history, seed ${seed}`, async () => {
        const [a, b] = [freshSchema(), freshSchema()];
        const runs = new PostgresStore({ connectionString: URL, schema: a, max: 3, runThreshold: 6 });
        const rows = new PostgresStore({ connectionString: URL, schema: b, max: 3, runThreshold: 1_000_000 });
        try {
          await runsModelHistory(seed, 100, runs, rows, false);
        } finally {
          await Promise.all([dropSchema(a), dropSchema(b)]);
        }
      });
    }

    /**
     * Users u, v, w in a store whose groups of 3 use runs, direct conversation d (u, v) and group g
     * (u, v, w); `seed` writes the history. Then a second connection holds g's row while `act`
     * runs; once act waits for it, the test takes `users` NOWAIT from that connection (55P03 if act
     * sat on their locks while waiting), lets g go, and hands act's result to `check`.
     */
    async function whileGroupHeld<T>(
      seed: (store: PostgresStore) => Promise<void>,
      act: (store: PostgresStore) => Promise<T>,
      users: string[],
      check: (store: PostgresStore, result: T) => Promise<void>,
    ): Promise<void> {
      const schema = freshSchema();
      const store = new PostgresStore({ connectionString: URL, schema, max: 3, runThreshold: 3 });
      const raw = new pg.Client({ connectionString: URL, options: `-c search_path=${schema}` });
      try {
        await store.migrate();
        await raw.connect();
        for (const id of ['u', 'v', 'w']) await store.createUser({ id: id as UserId, handle: id, passwordHash: 'x', createdAt: 1 });
        await seed(store);
        await raw.query('BEGIN');
        await raw.query("SELECT id FROM conversations WHERE id = 'g' FOR NO KEY UPDATE");
        const rawPid = (await raw.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        let settled = false;
        const pending = act(store).finally(() => (settled = true));
        for (;;) {
          const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [rawPid]);
          if (rows[0].n > 0) break;
          // It never needed the group: the seed did not open the runs this test is about.
          if (settled) assert.fail(`finished without waiting for g: ${JSON.stringify(await pending.then(() => 'ok', String))}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        const taken = await raw.query('SELECT id FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE NOWAIT', [users]);
        assert.equal(taken.rowCount, users.length);
        await raw.query('COMMIT');
        await check(store, await pending);
      } finally {
        await raw.end().catch(() => {});
        await store.close();
        await dropSchema(schema);
      }
    }

    const [u, v, w] = ['u' as UserId, 'v' as UserId, 'w' as UserId];
    const g = 'g' as ConversationId;
    const d = 'd' as ConversationId;
    const member = (user: UserId) => ({ user, admin: false });

    it('an append that must close runs on a conversation held elsewhere waits for it before locking any user', async () => {
      // u and v have open runs on g; a message in their direct conversation closes them, which
      // needs g held. While another transaction holds g, the append must not sit on u's and v's
      // locks: that transaction may want them next (an append to g with a row for u), and the two
      // would deadlock until PostgreSQL's deadlock_timeout broke it.
      await whileGroupHeld(
        async (store) => {
          await store.createConversation({ id: g, kind: 'group', name: 'g', createdAt: 1, by: w, members: [u, v, w].map(member) });
          await store.createConversation({ id: d, kind: 'direct', name: '', createdAt: 1, by: u, members: [u, v].map(member) });
          await store.appendMessages([{ conv: g, from: w, cmid: 'g1', kind: 'text', body: 'to the group', ts: 2 }]);
        },
        (store) => store.appendMessages([{ conv: d, from: v, cmid: 'd1', kind: 'text', body: 'direct', ts: 3 }]),
        ['u', 'v'],
        async (store, res) => {
          assert.deepEqual(res.outcomes, [{ ok: true, seq: 1, ts: 3, duplicate: false }]);
          for (const user of [u, v]) {
            const log = await store.readLog(user, 0, 10);
            assert.deepEqual(log.map((e) => [e.c, e.e.k, e.e.k === 'message' ? `${e.e.msg.conv}:${e.e.msg.seq}` : '']), [
              [1, 'conv', ''], [2, 'conv', ''], [3, 'message', 'g:1'], [4, 'message', 'd:1'],
            ], `${user}'s log`);
          }
        },
      );
    });

    it('a read that must close a run on a conversation held elsewhere waits for it before locking the reader', async () => {
      // The same order for reads: v reads the direct conversation, so v's log gets a `read` event,
      // which closes v's open run on g.
      await whileGroupHeld(
        async (store) => {
          await store.createConversation({ id: d, kind: 'direct', name: '', createdAt: 1, by: u, members: [u, v].map(member) });
          await store.appendMessages([{ conv: d, from: u, cmid: 'd1', kind: 'text', body: 'direct', ts: 2 }]);
          await store.createConversation({ id: g, kind: 'group', name: 'g', createdAt: 1, by: w, members: [u, v, w].map(member) });
          await store.appendMessages([{ conv: g, from: w, cmid: 'g1', kind: 'text', body: 'to the group', ts: 3 }]);
        },
        (store) => store.applyReads([{ user: v, conv: d, seq: 1 }]),
        ['v'],
        async (store, appended) => {
          assert.deepEqual(appended.get(v)?.map((e) => e.e.k), ['read']);
          const log = await store.readLog(v, 0, 10);
          assert.deepEqual(log.map((e) => [e.c, e.e.k]), [[1, 'conv'], [2, 'message'], [3, 'conv'], [4, 'message'], [5, 'read']]);
        },
      );
    });

    it('a message to a large group writes no per-member log row once the members are in runs', async () => {
      const schema = freshSchema();
      const store = new PostgresStore({ connectionString: URL, schema, max: 3, runThreshold: 8 });
      try {
        await store.migrate();
        const users = Array.from({ length: 50 }, (_, i) => `m${i}` as UserId);
        for (const u of users) await store.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
        await store.createDevice({ id: 'd49' as DeviceId, user: users[49]!, name: 'phone', refreshHash: 'r', createdAt: 1 });
        const conv = 'g-large' as ConversationId;
        await store.createConversation({ id: conv, kind: 'group', name: 'large', createdAt: 1, by: users[0]!, members: users.map((u) => ({ user: u, admin: false })) });
        const count = async (table: string) => Number((await admin.query(`SELECT count(*) AS n FROM "${schema}".${table}`)).rows[0].n);
        const send = async (i: number) => (await store.appendMessages([{ conv, from: users[i % 50]!, cmid: `c${i}`, kind: 'text', body: 'x', ts: i }])).appended;
        await send(0);
        const rowsBefore = await count('events');
        const runsBefore = await count('runs');
        for (let i = 1; i <= 20; i++) assert.equal((await send(i)).size, 50, 'every member is still told, live');
        assert.equal(await count('events'), rowsBefore, 'no message event rows');
        assert.ok((await count('runs')) - runsBefore <= 20, 'at most one new run per message (its sender)');
        assert.equal(await store.head(users[49]!), 1 + 21, 'the created event and 21 messages');
        const log = await store.readLog(users[49]!, 0, 100);
        assert.deepEqual(log.map((e) => e.c), Array.from({ length: 22 }, (_, i) => i + 1));
        assert.deepEqual(log.slice(1).map((e) => (e.e.k === 'message' ? e.e.msg.seq : -1)), Array.from({ length: 21 }, (_, i) => i + 1));
        // Acks: the first scans from cursor 0 (the created row, then the run); the next lies wholly
        // inside the open run and is answered from it.
        const delivered = async () => (await store.conversation(conv))?.members.find((m) => m.user === users[49])?.delivered;
        await store.applyAcks([{ user: users[49]!, device: 'd49' as DeviceId, cursor: 12 }]);
        assert.equal(await delivered(), 11);
        await store.applyAcks([{ user: users[49]!, device: 'd49' as DeviceId, cursor: 15 }]);
        assert.equal(await delivered(), 14);
        assert.equal((await store.device('d49' as DeviceId))?.acked, 15);
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    });
  });

  describe('PostgresStore across nodes', () => {
    for (const runThreshold of [undefined, 2]) {
    it(`two nodes appending to one conversation get dense seqs and cursors${runThreshold ? ' (in runs)' : ''}`, async () => {
      const schema = freshSchema();
      const nodes = [0, 1].map(() => new PostgresStore({ connectionString: URL, schema, max: 4, ...(runThreshold ? { runThreshold } : {}) }));
      const [n1, n2] = nodes as [PostgresStore, PostgresStore];
      try {
        // Several nodes migrating a fresh schema at once: the advisory lock makes it safe.
        await Promise.all([n1.migrate(), n2.migrate(), n1.migrate()]);
        const users = ['ua', 'ub', 'uc'] as UserId[];
        for (const u of users) await n1.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
        const conv = 'g' as ConversationId;
        const other = 'g2' as ConversationId;
        for (const id of [conv, other]) {
          await n2.createConversation({ id, kind: 'group', name: id, createdAt: 1, by: 'ua' as UserId, members: users.map((user) => ({ user, admin: false })) });
        }
        // Batches touching both conversations in opposite orders from both nodes: no deadlock
        // may escape, and both conversations stay dense.
        const calls = Array.from({ length: 60 }, (_, i) => {
          const node = i % 2 ? n1 : n2;
          const from = users[i % 3] as UserId;
          const pair = i % 4 < 2 ? [conv, other] : [other, conv];
          return node.appendMessages(pair.map((c, j) => ({ conv: c, from, cmid: `m${i}-${j}`, kind: 'text', body: `${i}`, ts: 1000 + i })));
        });
        // Retries of the same messages through the other node at the same time.
        calls.push(n1.appendMessages([{ conv, from: 'ua' as UserId, cmid: 'm0-0', kind: 'text', body: '0', ts: 1 }]));
        // Acks from both nodes meanwhile: their receipts enter the senders' logs, closing runs.
        const acks = Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? n1 : n2).applyAcks(users.map((user) => ({ user, device: `d-${user}` as DeviceId, cursor: 3 * i + 2 }))),
        );
        const results = await Promise.all(calls);
        await Promise.all(acks);
        const outcomes = results.flatMap((r) => r.outcomes);
        assert.equal(outcomes.filter((o) => o.ok && !o.duplicate).length, 120);
        const [original, retry] = [outcomes[0], outcomes.at(-1)];
        assert.ok(original?.ok && retry?.ok);
        assert.equal(retry.seq, original.seq, 'the retry got the original seq');
        assert.equal([original.duplicate, retry.duplicate].filter(Boolean).length, 1, 'whichever committed second is the duplicate');
        for (const id of [conv, other]) {
          const h = await n2.history(id, { limit: 1000 });
          assert.deepEqual(h.messages.map((m) => m.seq), Array.from({ length: 60 }, (_, i) => i + 1), `${id} dense`);
          assert.equal(new Set(h.messages.map((m) => m.cmid)).size, 60, 'no duplicates');
        }
        for (const u of users) {
          // 2 created + 120 messages, plus receipts as the senders' watermarks lift the minimum.
          const log = await n1.readLog(u, 0, 1000);
          assert.deepEqual(log.map((e) => e.c), Array.from({ length: log.length }, (_, i) => i + 1), `${u} cursors dense`);
          const got = log.flatMap((e) => (e.e.k === 'message' ? [`${e.e.msg.conv}/${e.e.msg.seq}`] : []));
          assert.equal(got.length, 120);
          assert.equal(new Set(got).size, 120, `${u} has every message exactly once`);
          assert.equal(await n2.head(u), log.length);
        }
        // Reads from both nodes at once: watermarks end at the maximum, the minimum is consistent.
        await Promise.all([
          n1.applyReads([{ user: 'ub' as UserId, conv, seq: 30 }]),
          n2.applyReads([{ user: 'ub' as UserId, conv, seq: 60 }]),
          n1.applyReads([{ user: 'uc' as UserId, conv, seq: 60 }]),
          n2.applyReads([{ user: 'ua' as UserId, conv, seq: 60 }]),
        ]);
        const rec = await n1.conversation(conv);
        assert.deepEqual([rec?.delivered, rec?.read], [60, 60]);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
        await dropSchema(schema);
      }
    });
    }

    it('replaces a pooled connection the server terminated', async () => {
      const schema = freshSchema();
      const app = `parley_kill_${randomBytes(4).toString('hex')}`;
      const store = new PostgresStore({ connectionString: `${URL}?application_name=${app}`, schema, max: 1 });
      try {
        await store.migrate();
        await store.createUser({ id: 'k' as UserId, handle: 'k', passwordHash: 'x', createdAt: 1 });
        const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
        assert.equal(killed.rowCount, 1);
        assert.equal(await store.head('k' as UserId), 0, 'the call runs on a fresh connection');
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    });

    it('rejects with UNAVAILABLE when PostgreSQL cannot be reached', async () => {
      const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 1000 });
      try {
        await assert.rejects(store.head('u' as UserId), (err: unknown) => (err as { code?: string }).code === 'UNAVAILABLE');
      } finally {
        await store.close();
      }
      await assert.rejects(store.head('u' as UserId), (err: unknown) => (err as { code?: string }).code === 'UNAVAILABLE');
    });

    it('rejects a schema name that is not a plain identifier', () => {
      assert.throws(() => new PostgresStore({ connectionString: URL, schema: 'x"; DROP TABLE users; --' }), TypeError);
    });
  });
}
