/**
 * GET /metrics: Prometheus text from the node's own registry; a send moves the store, message,
 * event, fan-out and local-notice series (the broker only carries notices for other nodes). Two
 * nodes in one process keep separate registries.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

/** Parses the text format into `name{labels}` -> value (histogram series included). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels include all of `labels`. */
function value(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, v] of m) {
    const brace = key.indexOf('{');
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n !== name) continue;
    if (Object.entries(labels).every(([k, val]) => key.includes(`${k}="${val}"`))) sum += v;
  }
  return sum;
}

async function scrape(server: TestServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parse(await res.text());
}

describe('metrics', () => {
  let server: TestServer;
  let other: TestServer;
  before(async () => {
    server = await startServer({ nodeId: 'metrics-a' });
    other = await startServer({ nodeId: 'metrics-b' });
  });
  after(async () => {
    await server.stop();
    await other.stop();
  });

  it('serves default process metrics, labelled with the node id', async () => {
    const m = await scrape(server);
    assert.ok(value(m, 'parley_process_cpu_user_seconds_total', { node: 'metrics-a' }) > 0);
    assert.ok([...m.keys()].some((k) => k.startsWith('parley_nodejs_heap_size_total_bytes')));
  });

  it('counts connections by transport, messages in, events out, fan-out, store and broker calls', async () => {
    const a = await register(server.url, 'ma');
    const b = await register(server.url, 'mb');
    const ca = new TestClient(await connectWs(server.url, a.access));
    const cb = new TestClient(await connectWs(server.url, b.access));
    await Promise.all([ca.welcome(), cb.welcome()]);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.handle })).conversation;
    const before = await scrape(server);
    assert.equal(value(before, 'parley_connections', { transport: 'websocket' }), 2);
    assert.equal(value(before, 'parley_connections', { transport: 'sse' }), 0);

    const cmid = 'm-1';
    await ca.request({ t: 'send', conv: conv.id, cmid, body: 'hello' });
    await ca.request({ t: 'send', conv: conv.id, cmid, body: 'hello' }); // a retry: a duplicate
    await cb.waitFor((f) => f.t === 'ev' && f.e.k === 'message', 5000, 'message');
    await ca.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt', 5000, 'receipt');
    const m = await scrape(server);

    const d = (name: string, labels: Record<string, string> = {}) => value(m, name, labels) - value(before, name, labels);
    assert.equal(d('parley_messages_in_total', { outcome: 'stored' }), 1);
    assert.equal(d('parley_messages_in_total', { outcome: 'duplicate' }), 1);
    assert.ok(d('parley_events_out_total', { transport: 'websocket' }) >= 3, 'msg to both, receipt to the sender');
    assert.ok(d('parley_store_seconds_count', { method: 'appendMessages', outcome: 'ok' }) >= 1);
    assert.ok(d('parley_store_seconds_sum', { method: 'appendMessages' }) > 0);
    assert.ok(d('parley_store_batch_size_count', { method: 'appendMessages' }) >= 1);
    assert.ok(d('parley_store_seconds_count', { method: 'applyAcks' }) >= 1);
    assert.ok(d('parley_fanout_recipients_count') >= 1);
    assert.ok(d('parley_fanout_publishes_sum') >= 2, 'both users are online here');
    // Both users are on this node: their notices go straight to its sessions, not through the broker.
    assert.ok(d('parley_local_notices_total', { type: 'events' }) >= 2);
    assert.equal(d('parley_broker_publish_seconds_count', { topic: 'node' }), 0);
    assert.equal(d('parley_broker_notices_total', { type: 'events' }), 0);
    assert.equal(d('parley_broker_publish_errors_total'), 0);

    // The other node's registry saw none of this.
    const o = await scrape(other);
    assert.equal(value(o, 'parley_messages_in_total'), 0);
    assert.equal(value(o, 'parley_connections'), 0);
    ca.close();
    cb.close();
  });
});
