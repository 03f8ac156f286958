/**
 * Three node processes on one PostgreSQL and one Redis; six SDK clients (two per node) exchange
 * messages steadily in three cross-node direct conversations and one group while one node is
 * SIGKILLed. Its clients reconnect through the front door to the survivors, resume from their
 * cursors and resend unanswered sends with the same cmid. Every message is counted: none lost, none
 * stored or delivered twice, order kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, pairsAndGroup } from './support/cluster.ts';
import { sleep } from './support/ports.ts';
import { clusterSkip } from './support/services.ts';
import { describeCounts, Traffic } from './support/traffic.ts';

const skip = await clusterSkip();

describe('SIGKILL of a node under steady traffic', { skip, timeout: 90_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await Cluster.start(['k1', 'k2', 'k3']);
  });
  after(() => cluster?.close());

  it('loses, duplicates and reorders nothing', async (t) => {
    const parties = await cluster.openParties(6, 'k');
    assert.deepEqual(
      parties.map((p) => p.nodes[0]),
      ['k1', 'k2', 'k3', 'k1', 'k2', 'k3'],
      'two clients per node',
    );
    const convs = await pairsAndGroup(parties);
    const traffic = new Traffic(parties, convs);
    traffic.start(40);
    await sleep(1500);
    const killedAt = traffic.sentCount;
    cluster.node('k1').kill('SIGKILL');
    const { signal } = await cluster.node('k1').exited;
    assert.equal(signal, 'SIGKILL');
    await sleep(3000);
    await traffic.settle(30_000);

    const c = traffic.count();
    t.diagnostic(describeCounts('sigkill', c));
    t.diagnostic(`k1 killed after ${killedAt} sends; clients of k1 moved to ${[parties[0], parties[3]].map((p) => p!.nodes.slice(1).join('>')).join(', ')}`);
    assert.deepEqual(traffic.failures(), []);
    assert.equal(c.acked, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
    assert.equal(c.stored, c.sent);
    for (const p of [parties[0]!, parties[3]!]) {
      assert.ok(p.nodes.length >= 2, `${p.name} reconnected`);
      assert.ok(p.nodes.slice(1).every((n) => n !== 'k1'), `${p.name} moved to a survivor`);
    }
  });
});
