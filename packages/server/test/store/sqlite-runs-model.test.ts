/**
 * Runs (sqlite/runs.ts) against plain log rows (runs-model.ts: the same random history, every answer
 * compared; the calls of one step share a transaction here). And the point of runs: a message to a
 * large group writes no per-member row.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ConversationId, UserId } from '@parley/protocol';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import { runsModelHistory } from './runs-model.ts';

describe('SQLite runs: same answers as plain log rows', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random history, seed ${seed}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-runs-'));
      const runs = new SqliteStore({ path: join(dir, 'runs.db'), runThreshold: 6 });
      const rows = new SqliteStore({ path: join(dir, 'rows.db'), runThreshold: 1_000_000 });
      try {
        await runsModelHistory(seed, 120, runs, rows, true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a message to a large group writes no per-member log row once the members are in runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-runs-'));
    const path = join(dir, 'p.db');
    const store = new SqliteStore({ path, runThreshold: 8 });
    try {
      await store.migrate();
      const users = Array.from({ length: 50 }, (_, i) => `m${i}` as UserId);
      for (const u of users) await store.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
      const conv = 'g-large' as ConversationId;
      await store.createConversation({ id: conv, kind: 'group', name: 'large', createdAt: 1, by: users[0]!, members: users.map((u) => ({ user: u, admin: false })) });
      const peek = new Database(path, { readonly: true });
      const count = (sql: string) => (peek.prepare(sql).get() as { n: number }).n;
      const send = async (i: number) => (await store.appendMessages([{ conv, from: users[i % 50]!, cmid: `c${i}`, kind: 'text', body: 'x', ts: i }])).appended;
      await send(0);
      const rowsBefore = count('SELECT COUNT(*) AS n FROM events');
      const runsBefore = count('SELECT COUNT(*) AS n FROM runs');
      for (let i = 1; i <= 20; i++) {
        const appended = await send(i);
        assert.equal(appended.size, 50, 'every member is still told, live');
      }
      // The senders' own receipts close and reopen a few runs; the other members cost nothing.
      assert.equal(count('SELECT COUNT(*) AS n FROM events'), rowsBefore, 'no message event rows');
      assert.ok(count('SELECT COUNT(*) AS n FROM runs') - runsBefore <= 20, 'at most one new run per message (its sender)');
      assert.equal(await store.head(users[49]!), 1 + 21, 'the created event and 21 messages');
      const log = await store.readLog(users[49]!, 0, 100);
      assert.deepEqual(log.map((e) => e.c), Array.from({ length: 22 }, (_, i) => i + 1));
      assert.deepEqual(log.slice(1).map((e) => (e.e.k === 'message' ? e.e.msg.seq : -1)), Array.from({ length: 21 }, (_, i) => i + 1));
      peek.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
