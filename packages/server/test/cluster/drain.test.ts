/**
 * Graceful drain across nodes: SIGTERM on a node under steady traffic. Its clients get the
 * `reconnect` frame and close 1012, what it had in flight is committed, the process exits 0, and
 * the clients continue on the other nodes without losing, duplicating or reordering anything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerFrame } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { Cluster, pairsAndGroup } from './support/cluster.ts';
import { sleep } from './support/ports.ts';
import { clusterSkip } from './support/services.ts';
import { describeCounts, Traffic } from './support/traffic.ts';

const skip = await clusterSkip();

describe('SIGTERM drains a node', { skip, timeout: 90_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start(['d1', 'd2', 'd3']);
  });
  after(() => cluster?.close());

  it('tells its clients to reconnect, exits 0, and nothing is lost', async (t) => {
    const parties = await cluster.openParties(6, 'd');
    const d3 = cluster.node('d3');
    const watcher = new TestClient(await connectWs(d3.url, (await cluster.register('w')).access));
    assert.equal((await watcher.welcome()).node, 'd3');
    const convs = await pairsAndGroup(parties);
    const traffic = new Traffic(parties, convs);
    traffic.start(40);
    await sleep(1500);

    d3.kill('SIGTERM');
    const close = await watcher.closed(10_000);
    const { code, signal } = await d3.exited;
    assert.equal(close.code, 1012);
    const kinds = watcher.frames.map((f: ServerFrame) => f.t);
    assert.equal(kinds[kinds.length - 1], 'reconnect', 'the reconnect frame comes right before the close');
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `d3 exits 0:\n${d3.output()}`);

    await sleep(2000);
    await traffic.settle(30_000);
    const c = traffic.count();
    t.diagnostic(describeCounts('drain', c));
    t.diagnostic(`clients of d3 moved to ${[parties[2], parties[5]].map((p) => p!.nodes.slice(1).join('>')).join(', ')}`);
    assert.deepEqual(traffic.failures(), []);
    assert.equal(c.acked, c.sent);
    assert.equal(c.stored, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
    for (const p of [parties[2]!, parties[5]!]) {
      assert.ok(p.nodes.length >= 2 && p.nodes.slice(1).every((n) => n !== 'd3'), `${p.name} continued on another node`);
    }
  });
});
