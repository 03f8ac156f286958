/**
 * WAL checkpoints happen on the background thread: the writing connection never checkpoints
 * (wal_autocheckpoint = 0), yet committed messages reach the database file itself while the store
 * is open, and the WAL does not keep growing, even under writes that never pause.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ConversationId, UserId } from '@parley/protocol';
import { SqliteStore } from '../../src/store/SqliteStore.ts';

/** Messages in the database file alone (a copy without its WAL). */
function messagesInMainFile(dir: string): number {
  const copy = join(dir, 'main-only.db');
  rmSync(copy, { force: true });
  copyFileSync(join(dir, 'parley.db'), copy);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'messages'").get() as { n: number }).n === 0
      ? 0
      : (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('SQLite background checkpoints', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // With the checkpoints left to the writing connection (SQLite's default 1,000 pages) this fails:
  // the ~950 frames these commits write stay in the WAL until the store closes.
  it('copies committed pages into the database file while the store stays open', async () => {
    const store = new SqliteStore({ path: join(dir, 'parley.db'), backgroundCheckpoints: true });
    try {
      await store.migrate();
      const [a, b] = ['u_a', 'u_b'] as UserId[];
      for (const u of [a!, b!]) await store.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
      const conv = 'c_1' as ConversationId;
      await store.createConversation({ id: conv, kind: 'direct', name: '', createdAt: 1, by: a!, members: [{ user: a!, admin: false }, { user: b!, admin: false }] });
      let walPeak = 0;
      for (let round = 0; round < 40; round++) {
        const batch = Array.from({ length: 50 }, (_, i) => ({ conv, from: a!, cmid: `r${round}-${i}`, kind: 'text', body: 'x'.repeat(200), ts: 1 }));
        await store.appendMessages(batch);
        walPeak = Math.max(walPeak, statSync(join(dir, 'parley.db-wal')).size);
      }
      const deadline = Date.now() + 20_000;
      let inFile = messagesInMainFile(dir);
      while (inFile < 2000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        inFile = messagesInMainFile(dir);
      }
      assert.equal(inFile, 2000, `every committed message reached the database file (WAL peak ${walPeak} bytes)`);
      // 2,000 messages with their log rows are ~2 MB of pages: without checkpoints the WAL would
      // hold them all; with them it restarts from the top after each complete checkpoint.
      assert.ok(statSync(join(dir, 'parley.db-wal')).size <= walPeak);
    } finally {
      await store.close();
    }
  });

  // Without the catch-up (a PASSIVE pass on the writing connection once the thread has copied all
  // but a short tail) this fails: a commit lands during every pass of the thread, the WAL never
  // starts over, and these ~64,000 messages leave ~450 MB of it.
  it('keeps the WAL bounded under writes that never pause', async () => {
    const store = new SqliteStore({ path: join(dir, 'parley.db'), backgroundCheckpoints: true });
    try {
      await store.migrate();
      const users = Array.from({ length: 40 }, (_, i) => `u_${i}` as UserId);
      for (const u of users) await store.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
      const convs: { conv: ConversationId; from: UserId }[] = [];
      for (let i = 0; i < 20; i++) {
        const conv = `c_${i}` as ConversationId;
        const [a, b] = [users[2 * i]!, users[2 * i + 1]!];
        await store.createConversation({ id: conv, kind: 'direct', name: '', createdAt: 1, by: a, members: [{ user: a, admin: false }, { user: b, admin: false }] });
        convs.push({ conv, from: a });
      }
      let walPeak = 0;
      for (let round = 0; round < 500; round++) {
        const batch = Array.from({ length: 128 }, (_, i) => ({ ...convs[i % 20]!, cmid: `r${round}-${i}`, kind: 'text', body: 'x'.repeat(60), ts: 1 }));
        await store.appendMessages(batch);
        walPeak = Math.max(walPeak, statSync(join(dir, 'parley.db-wal')).size);
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(walPeak < 250 * 1024 * 1024, `WAL peak ${Math.round(walPeak / 1048576)} MiB`);
    } finally {
      await store.close();
    }
  });
});
