import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisRouter, type RedisRouterOptions } from '../../src/routing/RedisRouter.ts';
import { adminClient, deleteKeys, redisSkip, REDIS_URL, sleep, uniquePrefix, user } from './support.ts';

const skip = await redisSkip();

const sorted = (m: Map<string, string[]>): Record<string, string[]> =>
  Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]));

describe('RedisRouter', { skip }, () => {
  let prefix: string;
  let admin: Redis;
  const routers: RedisRouter[] = [];

  /** One router per simulated node, each with its own connection, as in a cluster. */
  const router = (extra: RedisRouterOptions = {}): RedisRouter => {
    const r = new RedisRouter({ redis: REDIS_URL, prefix, ...extra });
    routers.push(r);
    return r;
  };

  beforeEach(() => {
    prefix = uniquePrefix();
    admin = adminClient();
  });
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((r) => r.close()));
    await deleteKeys(admin, prefix);
    await admin.quit();
  });

  test('attach, nodesOf and detach across two nodes', async () => {
    const a = router();
    const b = router();
    await a.attach(user('u1'), 'A');
    await b.attach(user('u1'), 'B');
    await b.attach(user('u2'), 'B');
    await b.attach(user('u2'), 'B'); // idempotent

    const all = await a.nodesOf([user('u1'), user('u2'), user('u3')]);
    assert.deepEqual(sorted(all), { u1: ['A', 'B'], u2: ['B'] });

    await a.detach(user('u1'), 'A');
    await b.detach(user('u2'), 'B');
    await b.detach(user('u2'), 'B'); // detaching twice is harmless
    assert.deepEqual(sorted(await b.nodesOf([user('u1'), user('u2')])), { u1: ['B'] });
    assert.equal(await admin.exists(`${prefix}routes:u2`), 0, 'an empty hash leaves no key');
    assert.deepEqual(await a.nodesOf([]), new Map());
  });

  test('nodesOf answers a large group in order, across its chunks of users', async () => {
    const a = router();
    const b = router();
    // 1,300 users (three script calls of at most 512): every third on A, every fifth on B, some on
    // neither; asked for in a shuffled order, with one user asked twice.
    const users = Array.from({ length: 1300 }, (_, i) => user(`g${i}`));
    const expect: Record<string, string[]> = {};
    for (const [i, u] of users.entries()) {
      const nodes = [...(i % 3 === 0 ? ['A'] : []), ...(i % 5 === 0 ? ['B'] : [])];
      for (const n of nodes) await (n === 'A' ? a : b).attach(u, n);
      if (nodes.length > 0) expect[u] = nodes;
    }
    const asked = [...users].reverse();
    asked.splice(700, 0, users[0]!);
    assert.deepEqual(sorted(await b.nodesOf(asked)), expect);
  });

  test("a dead node's entries expire; a heartbeating node's stay", async () => {
    const dead = router({ ttlMs: 300 });
    const alive = router({ ttlMs: 300 });
    const users = [user('p'), user('q')];
    for (const u of users) {
      await dead.attach(u, 'dead');
      await alive.attach(u, 'alive');
    }
    await dead.attach(user('only-dead'), 'dead');

    for (let i = 0; i < 4; i++) {
      await sleep(120);
      await alive.heartbeat('alive', users);
    }
    // 480 ms later: the dead node's entries (ttl 300) are gone, the heartbeated ones are not.
    assert.deepEqual(sorted(await alive.nodesOf([...users, user('only-dead')])), {
      p: ['alive'],
      q: ['alive'],
    });
    assert.equal(await admin.exists(`${prefix}routes:only-dead`), 0, 'dead entries met by nodesOf are deleted');

    await sleep(350);
    assert.deepEqual(await alive.nodesOf(users), new Map(), 'everything expires without heartbeat');
    assert.equal(await admin.exists(`${prefix}routes:p`, `${prefix}routes:q`), 0);
  });

  test('heartbeat restores entries that were lost (e.g. after a Redis outage)', async () => {
    const a = router({ ttlMs: 300 });
    await a.heartbeat('A', [user('r'), user('s')]);
    assert.deepEqual(sorted(await a.nodesOf([user('r'), user('s')])), { r: ['A'], s: ['A'] });
    const ttl = await admin.pttl(`${prefix}route-node:A`);
    assert.ok(ttl > 0 && ttl <= 300, `the node's liveness key carries the ttl (${ttl})`);
  });

  test('a shared client is used as is and not closed', async () => {
    const shared = adminClient();
    const a = new RedisRouter({ redis: shared, prefix });
    await a.attach(user('t'), 'A');
    await a.close();
    assert.equal(await shared.hlen(`${prefix}routes:t`), 1);
    await shared.quit();
  });
});
