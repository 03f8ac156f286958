import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisPresence, type RedisPresenceOptions } from '../../src/presence/RedisPresence.ts';
import { adminClient, deleteKeys, redisSkip, REDIS_URL, sleep, uniquePrefix, user } from './support.ts';

const skip = await redisSkip();

describe('RedisPresence', { skip }, () => {
  let prefix: string;
  let admin: Redis;
  const nodes: RedisPresence[] = [];

  /** One instance per simulated node, each with its own connection, as in a cluster. */
  const node = (extra: RedisPresenceOptions = {}): RedisPresence => {
    const p = new RedisPresence({ redis: REDIS_URL, prefix, ...extra });
    nodes.push(p);
    return p;
  };

  beforeEach(() => {
    prefix = uniquePrefix();
    admin = adminClient();
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((p) => p.close()));
    await deleteKeys(admin, prefix);
    await admin.quit();
  });

  test('transitions on one node', async () => {
    const a = node();
    const u = user('u');
    assert.equal(await a.connect(u, 'c1', 'A'), true, 'first connection: was offline');
    assert.equal(await a.connect(u, 'c2', 'A'), false);
    assert.equal(await a.connect(u, 'c2', 'A'), false, 'reconnecting the same id is no transition');
    assert.deepEqual(await a.online([u, user('nobody')]), new Set([u]));
    assert.equal(await a.disconnect(u, 'c1', 'A'), false);
    assert.equal(await a.disconnect(u, 'c2', 'A'), true, 'last connection: now offline');
    assert.equal(await a.disconnect(u, 'c2', 'A'), false, 'reported once');
    assert.equal(await a.disconnect(u, 'unknown', 'A'), false);
    assert.deepEqual(await a.online([u]), new Set());
    assert.deepEqual(await a.online([]), new Set());
  });

  test('a user on two nodes goes offline only with the last disconnect', async () => {
    const a = node();
    const b = node();
    const u = user('u');
    assert.equal(await a.connect(u, 'c1', 'A'), true);
    assert.equal(await b.connect(u, 'c1', 'B'), false, 'same connection id on another node is another connection');
    assert.equal(await a.disconnect(u, 'c1', 'A'), false);
    assert.deepEqual(await a.online([u]), new Set([u]));
    assert.equal(await b.disconnect(u, 'c1', 'B'), true);
    assert.deepEqual(await b.online([u]), new Set());
  });

  test('concurrent connects and disconnects report exactly one transition', async () => {
    const instances = Array.from({ length: 8 }, () => node());
    for (let round = 0; round < 5; round++) {
      const u = user(`race-${round}`);
      const connects = await Promise.all(
        instances.map((p, i) => p.connect(u, `c${i}`, `N${i}`)),
      );
      assert.equal(connects.filter(Boolean).length, 1, `one "was offline" in round ${round}`);
      const disconnects = await Promise.all(
        instances.map((p, i) => p.disconnect(u, `c${i}`, `N${i}`)),
      );
      assert.equal(disconnects.filter(Boolean).length, 1, `one "now offline" in round ${round}`);
    }
  });

  test("a dead node's connections expire; the next call observing it reports the transition", async () => {
    const dead = node({ ttlMs: 300 });
    const alive = node({ ttlMs: 300 });
    const both = user('both');
    const lonely = user('lonely');
    assert.equal(await dead.connect(both, 'd1', 'DEAD'), true);
    assert.equal(await alive.connect(both, 'a1', 'ALIVE'), false);
    assert.equal(await dead.connect(lonely, 'd2', 'DEAD'), true);

    for (let i = 0; i < 4; i++) {
      await sleep(120);
      await alive.heartbeat('ALIVE', [{ user: both, connId: 'a1' }]);
    }
    // The dead node stopped heartbeating 480 ms ago (ttl 300).
    assert.deepEqual(await alive.online([both, lonely]), new Set([both]));

    // `both` is still online through ALIVE; its last disconnect reports offline once.
    assert.equal(await alive.disconnect(both, 'a1', 'ALIVE'), true);
    assert.equal(await dead.disconnect(both, 'd1', 'DEAD'), false);

    // `lonely` went offline by expiry; a new connection elsewhere reports the user came online.
    assert.equal(await alive.connect(lonely, 'a2', 'ALIVE'), true);
  });

  test('the keys of users whose connections all expired go away (after gcMs)', async () => {
    const dead = node({ ttlMs: 300, gcMs: 600 });
    await dead.connect(user('gone'), 'c1', 'DEAD');
    await dead.connect(user('gone'), 'c2', 'DEAD');
    const ttl = await admin.pttl(`${prefix}conns:gone`);
    assert.ok(ttl > 300 && ttl <= 600, `gc expiry (${ttl})`);
    await sleep(400);
    assert.deepEqual(await dead.online([user('gone')]), new Set(), 'offline once expired');
    await sleep(300);
    assert.equal(await admin.exists(`${prefix}conns:gone`), 0, 'key removed by Redis');
  });

  test('an expired connection observed by a disconnect is reported offline once', async () => {
    const a = node({ ttlMs: 300 });
    const b = node({ ttlMs: 300 });
    const u = user('u');
    await a.connect(u, 'c1', 'A');
    await b.connect(u, 'c2', 'B');
    await sleep(400); // both expire; nobody has reported it yet
    assert.equal(await b.disconnect(u, 'c2', 'B'), true, 'first observer reports offline');
    assert.equal(await a.disconnect(u, 'c1', 'A'), false, 'not a second time');
  });

  test('heartbeat keeps connections alive past the ttl and restores lost ones', async () => {
    const a = node({ ttlMs: 300 });
    const u = user('u');
    await a.connect(u, 'c1', 'A');
    for (let i = 0; i < 4; i++) {
      await sleep(120);
      await a.heartbeat('A', [{ user: u, connId: 'c1' }]);
    }
    assert.deepEqual(await a.online([u]), new Set([u]));
    const ttl = await admin.pttl(`${prefix}presence-node:A`);
    assert.ok(ttl > 0 && ttl <= 300, `the node's liveness key carries the ttl (${ttl})`);

    await admin.del(`${prefix}conns:u`, `${prefix}presence-node:A`); // as if Redis lost its data
    await a.heartbeat('A', [{ user: u, connId: 'c1' }]);
    assert.deepEqual(await a.online([u]), new Set([u]));
    await a.heartbeat('A', []);
  });
});
