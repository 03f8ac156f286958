/**
 * PostgreSQL restarted mid-traffic. Two node processes use a private PostgreSQL cluster (initdb'd
 * here, on a free port; the shared one is not touched). While it is down, sends are refused with
 * the retryable UNAVAILABLE error; the SDK's outbox retries them with the same cmid, and once the
 * database is back each lands exactly once, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorFrame, Results } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { Cluster, pairsAndGroup } from './support/cluster.ts';
import { sleep } from './support/ports.ts';
import { postgresBin, PrivatePostgres } from './support/private-postgres.ts';
import { clusterSkip } from './support/services.ts';
import { describeCounts, Traffic } from './support/traffic.ts';

let skip = await clusterSkip({ redis: true });
if (skip === false && !postgresBin()) {
  skip = 'no PostgreSQL server binaries to start a private cluster';
  if (process.env.CI === 'true') throw new Error(skip);
}

/** Sum of a counter/histogram series over the nodes' /metrics, e.g. failed appendMessages calls. */
async function scrapeSum(urls: string[], prefix: string): Promise<number> {
  let sum = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('PostgreSQL restarted mid-traffic', { skip, timeout: 120_000 }, () => {
  let pgc: PrivatePostgres;
  let cluster: Cluster;
  before(async () => {
    pgc = await PrivatePostgres.create();
    await pgc.start();
    cluster = await Cluster.start(['p1', 'p2'], { databaseUrl: pgc.url });
  });
  after(async () => {
    await cluster?.close();
    await pgc?.destroy();
  });

  it('sends fail with UNAVAILABLE while it is down; the SDK lands each once after', async (t) => {
    const parties = await cluster.openParties(4, 'q');
    const convs = await pairsAndGroup(parties);
    // A raw client on p1 sees what the SDK hides: the error code of a send during the outage.
    const raw = new TestClient(await connectWs(cluster.node('p1').url, parties[0]!.tokens.access));
    await raw.welcome();
    const traffic = new Traffic(parties, convs);
    traffic.start(40);
    await sleep(1500);

    await pgc.stop('fast');
    const down = traffic.sentCount;
    raw.link.send({ t: 'send', id: 'during', conv: convs[0]!.id as never, cmid: 'raw-during', body: 'raw' });
    const refused = await raw.waitFor<ErrorFrame>((f) => (f.t === 'err' || f.t === 'res') && f.id === 'during', 10_000, 'answer during outage');
    assert.equal(refused.t, 'err');
    assert.equal(refused.code, 'UNAVAILABLE');
    await sleep(2000);
    const duringOutage = traffic.sentCount - down;
    await pgc.start();
    const back = Date.now();
    await sleep(2000);
    await traffic.settle(40_000);

    const c = traffic.count();
    const urls = cluster.nodes.map((n) => n.url);
    const failedAppends = await scrapeSum(urls, 'parley_store_seconds_count{node="p1",method="appendMessages",outcome="error"}') +
      (await scrapeSum(urls, 'parley_store_seconds_count{node="p2",method="appendMessages",outcome="error"}'));
    const duplicates = await scrapeSum(urls, 'parley_messages_in_total{node="p1",outcome="duplicate"}') + (await scrapeSum(urls, 'parley_messages_in_total{node="p2",outcome="duplicate"}'));
    t.diagnostic(describeCounts('postgres restart', c));
    t.diagnostic(`${duringOutage} sends issued while PostgreSQL was down (2 s); ${failedAppends} group commits failed with UNAVAILABLE on the nodes; ${duplicates} retries answered as duplicates; all settled ${Date.now() - back} ms after it came back`);
    assert.deepEqual(traffic.failures(), []);
    assert.equal(c.acked, c.sent);
    assert.equal(c.stored, c.sent);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicated, 0);
    assert.equal(c.reordered, 0);
    assert.ok(failedAppends > 0, 'sends did fail during the outage');

    // The raw client's refused send, retried with its cmid, is stored once.
    const retried = await raw.request<Results['send']>({ t: 'send', conv: convs[0]!.id as never, cmid: 'raw-during', body: 'raw' });
    const again = await raw.request<Results['send']>({ t: 'send', conv: convs[0]!.id as never, cmid: 'raw-during', body: 'raw' });
    assert.equal(again.seq, retried.seq);
    assert.equal(again.duplicate, true);
    raw.close();
  });
});
