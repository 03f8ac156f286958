/**
 * Redis restarted mid-traffic. Two node processes use a private redis-server (started here on a free
 * port, no persistence: the restart loses every key, routes and presence included); the shared Redis
 * is not touched. While Redis is down, commits go on (PostgreSQL is up) but live notices are lost;
 * once it is back, routes return with the nodes' heartbeat and each session notices the gap by its
 * idle cursor check (or its next event) and reads it from the store. Nothing is lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, pairsAndGroup } from './support/cluster.ts';
import { sleep } from './support/ports.ts';
import { hasRedisServer, PrivateRedis } from './support/private-redis.ts';
import { clusterSkip } from './support/services.ts';
import { describeCounts, Traffic } from './support/traffic.ts';

let skip = await clusterSkip({ pg: true });
if (skip === false && !(await hasRedisServer())) {
  skip = 'redis-server is not installed';
  if (process.env.CI === 'true') throw new Error(skip);
}

describe('Redis restarted mid-traffic', { skip, timeout: 120_000 }, () => {
  let redis: PrivateRedis;
  let cluster: Cluster;
  before(async () => {
    redis = await PrivateRedis.start();
    cluster = await Cluster.start(['r1', 'r2'], { redisUrl: redis.url });
  });
  after(async () => {
    await cluster?.close();
    await redis?.kill();
  });

  it('delivery resumes without loss once Redis is back', async (t) => {
    const parties = await cluster.openParties(4, 'r');
    const convs = await pairsAndGroup(parties);
    const traffic = new Traffic(parties, convs);
    traffic.start(40);
    await sleep(1500);
    const before = traffic.sentCount;
    await redis.kill();
    await sleep(2000);
    const during = traffic.sentCount - before;
    await redis.start();
    const back = Date.now();
    await sleep(2000);
    traffic.stop();
    await traffic.settle(40_000);
    const c = traffic.count();
    t.diagnostic(describeCounts('redis restart', c));
    t.diagnostic(`${during} sends while Redis was down (2 s); every member had everything ${Date.now() - back} ms after Redis came back`);
    assert.deepEqual(traffic.failures(), []);
    assert.equal(c.acked, c.sent);
    assert.equal(c.stored, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
  });
});
