/**
 * Upgrading a database written by an earlier schema: version 2 kept each user's log head and
 * delivered cursor in the users row; version 3 moves them to `heads`. A user's log must read and
 * continue exactly where it was, and acks keep their place.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ConversationId, DeviceId, UserId } from '@parley/protocol';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import { sqliteMigrations } from '../../src/store/sqlite/migrations.ts';

describe('SQLite schema upgrades', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-migrate-'));
    path = join(dir, 'parley.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A version-2 file: users a and b in a direct conversation, 3 messages, b's device acked 2. */
  function writeVersion2(): void {
    const db = new Database(path);
    db.exec(sqliteMigrations[0]!);
    db.exec(sqliteMigrations[1]!);
    db.pragma('user_version = 2');
    const user = db.prepare('INSERT INTO users (id, handle, handle_lc, password_hash, created_at, head, delivered_cursor) VALUES (?, ?, ?, ?, 1, ?, ?)');
    user.run('u_a', 'a', 'a', 'x', 3, 3);
    user.run('u_b', 'b', 'b', 'x', 3, 2);
    db.prepare("INSERT INTO devices (id, user_id, name, refresh_hash, created_at, acked) VALUES ('d_b', 'u_b', 'phone', 'r', 1, 2)").run();
    db.prepare("INSERT INTO conversations (id, kind, name, direct_key, created_at, last_seq, active_at, agg_delivered, agg_read) VALUES ('c_1', 'direct', '', 'u_a:u_b', 1, 3, 1, 2, 0)").run();
    const member = db.prepare("INSERT INTO members (conv_id, user_id, delivered, read, joined_at) VALUES ('c_1', ?, ?, ?, 1)");
    member.run('u_a', 3, 3);
    member.run('u_b', 2, 0);
    for (let seq = 1; seq <= 3; seq++) {
      db.prepare("INSERT INTO messages (conv_id, seq, sender, cmid, kind, body, ts) VALUES ('c_1', ?, 'u_a', ?, 'text', ?, 1)").run(seq, `m${seq}`, `hello ${seq}`);
      for (const u of ['u_a', 'u_b']) db.prepare("INSERT INTO events (user_id, cursor, kind, conv_id, seq) VALUES (?, ?, 'message', 'c_1', ?)").run(u, seq, seq);
    }
    db.close();
  }

  it('moves heads and delivered cursors out of users; logs continue where they were', async () => {
    writeVersion2();
    const store = new SqliteStore({ path });
    try {
      await store.migrate();
      await store.migrate(); // idempotent
      const raw = new Database(path, { readonly: true });
      assert.equal(raw.pragma('user_version', { simple: true }), sqliteMigrations.length);
      assert.deepEqual(raw.prepare('SELECT user_id, head, delivered_cursor FROM heads ORDER BY user_id').all(), [
        { user_id: 'u_a', head: 3, delivered_cursor: 3 },
        { user_id: 'u_b', head: 3, delivered_cursor: 2 },
      ]);
      const cols = (raw.prepare('PRAGMA table_info(users)').all() as { name: string }[]).map((c) => c.name);
      assert.ok(!cols.includes('head') && !cols.includes('delivered_cursor'), cols.join());
      raw.close();

      const [a, b] = ['u_a', 'u_b'] as UserId[];
      assert.equal(await store.head(b!), 3);
      assert.deepEqual(
        (await store.readLog(b!, 0, 10)).map((e) => [e.c, e.e.k === 'message' ? e.e.msg.body : e.e.k]),
        [[1, 'hello 1'], [2, 'hello 2'], [3, 'hello 3']],
      );
      const sent = await store.appendMessages([{ conv: 'c_1' as ConversationId, from: a!, cmid: 'm4', kind: 'text', body: 'hello 4', ts: 2 }]);
      assert.deepEqual(sent.outcomes, [{ ok: true, seq: 4, ts: 2, duplicate: false }]);
      assert.deepEqual(sent.appended.get(b!)?.map((e) => e.c), [4]);
      // b's delivered cursor was 2: acking 4 covers messages 3 and 4, and a hears of it by receipt.
      const acked = await store.applyAcks([{ user: b!, device: 'd_b' as DeviceId, cursor: 4 }]);
      const receipt = acked.get(a!)?.find((e) => e.e.k === 'receipt');
      assert.ok(receipt, JSON.stringify([...acked]));
      assert.equal(receipt.e.k === 'receipt' && receipt.e.delivered, 4);
      assert.equal((await store.device('d_b' as DeviceId))?.acked, 4);
      // A user created after the upgrade has a head row of its own.
      await store.createUser({ id: 'u_c' as UserId, handle: 'c', passwordHash: 'x', createdAt: 3 });
      assert.equal(await store.head('u_c' as UserId), 0);
    } finally {
      await store.close();
    }
  });
});
