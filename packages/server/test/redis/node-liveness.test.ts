/**
 * Node-level liveness of RedisRouter and RedisPresence: a heartbeat writes the node's one liveness
 * key (plus a slice of a slow expiry pass), a node's entries live and die with that key, a
 * restarted process with the same node id does not inherit the old one's entries, and a node whose
 * key lapsed (a stall, a Redis outage) restores its entries on its next heartbeat.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import type { UserId } from '@parley/protocol';
import { RedisPresence, type RedisPresenceOptions } from '../../src/presence/RedisPresence.ts';
import { RedisRouter, type RedisRouterOptions } from '../../src/routing/RedisRouter.ts';
import { adminClient, deleteKeys, redisSkip, REDIS_URL, sleep, uniquePrefix, user } from './support.ts';

const skip = await redisSkip();

describe('node-level liveness (Redis router and presence)', { skip }, () => {
  let prefix: string;
  let admin: Redis;
  const closers: { close(): Promise<void> }[] = [];
  const router = (extra: RedisRouterOptions = {}) => {
    const r = new RedisRouter({ redis: REDIS_URL, prefix, ...extra });
    closers.push(r);
    return r;
  };
  const presence = (extra: RedisPresenceOptions = {}) => {
    const p = new RedisPresence({ redis: REDIS_URL, prefix, ...extra });
    closers.push(p);
    return p;
  };
  const existing = async (keys: string[]) => (await Promise.all(keys.map((k) => admin.exists(k)))).reduce((a, b) => a + b, 0);

  beforeEach(() => {
    prefix = uniquePrefix();
    admin = adminClient();
  });
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c.close()));
    await deleteKeys(admin, prefix);
    await admin.quit();
  });

  test('a heartbeat rewrites only a slice of the entries; every entry is rewritten within 30 beats', async () => {
    const r = router();
    const users: UserId[] = Array.from({ length: 90 }, (_, i) => user(`u${i}`));
    for (const u of users) await r.attach(u, 'A');
    await r.heartbeat('A', users); // the first beat after attaches (key newly taken) rewrites everything
    const keys = users.map((u) => `${prefix}routes:${u}`);
    await admin.del(...keys); // invisible to the node: its liveness key is intact
    await r.heartbeat('A', users);
    assert.equal(await existing(keys), 3, 'one beat rewrote 1/30 of 90 entries');
    for (let i = 0; i < 29; i++) await r.heartbeat('A', users);
    assert.equal(await existing(keys), 90, 'the slow pass went round once');
    const gc = await admin.pttl(keys[0]!);
    assert.ok(gc > 30_000 * 100, `user keys carry the long gc expiry (${gc})`);
  });

  test("a restarted process with the same node id does not inherit the old one's entries", async () => {
    const before = router();
    await before.attach(user('old'), 'N');
    const after = router(); // a new incarnation of node N
    await after.attach(user('new'), 'N');
    assert.deepEqual([...(await after.nodesOf([user('old'), user('new')]))], [[user('new'), ['N']]]);

    const p1 = presence();
    assert.equal(await p1.connect(user('x'), 'c1', 'N'), true);
    const p2 = presence();
    assert.equal(await p2.connect(user('y'), 'c2', 'N'), true);
    assert.deepEqual(await p2.online([user('x'), user('y')]), new Set([user('y')]));
    assert.equal(await p2.connect(user('x'), 'c3', 'N'), true, 'x was offline: its old connection died with the old process');
  });

  test('a node whose liveness key lapsed restores its entries on its next heartbeat', async () => {
    const a = router({ ttlMs: 300 });
    const b = router({ ttlMs: 300 });
    const users = [user('s1'), user('s2')];
    for (const u of users) await a.attach(u, 'A');
    await a.heartbeat('A', users);
    await sleep(400); // A stalled past its ttl
    assert.deepEqual(await b.nodesOf(users), new Map(), 'dead for others, and pruned by them');
    assert.equal(await existing(users.map((u) => `${prefix}routes:${u}`)), 0);
    await a.heartbeat('A', users);
    assert.deepEqual([...(await b.nodesOf(users))].sort(), [[user('s1'), ['A']], [user('s2'), ['A']]]);

    const pa = presence({ ttlMs: 300 });
    const pb = presence({ ttlMs: 300 });
    const conns = users.map((u, i) => ({ user: u, connId: `c${i}` }));
    for (const c of conns) await pa.connect(c.user, c.connId, 'A');
    await pa.heartbeat('A', conns);
    await sleep(400);
    assert.deepEqual(await pb.online(users), new Set());
    await pa.heartbeat('A', conns);
    assert.deepEqual(await pb.online(users), new Set(users));
  });

  test("a dead node's entries are dead one ttl after its last heartbeat, while a live node's stay without per-entry refresh", async () => {
    const dead = presence({ ttlMs: 300 });
    const alive = presence({ ttlMs: 300 });
    const u = user('mixed');
    await dead.connect(u, 'd', 'DEAD');
    await alive.connect(u, 'a', 'ALIVE');
    for (let i = 0; i < 5; i++) {
      await sleep(120);
      await alive.heartbeat('ALIVE', [{ user: u, connId: 'a' }]);
    }
    assert.deepEqual(await alive.online([u]), new Set([u]));
    assert.equal(await alive.disconnect(u, 'a', 'ALIVE'), true, "the dead node's connection no longer counts");
  });
});
