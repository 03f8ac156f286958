/**
 * Three node processes on one PostgreSQL and one Redis. Users connected to different nodes exchange
 * 1:1 and group messages with every receipt (delivered and read reach the sender across nodes);
 * presence and typing cross nodes; long-poll and SSE requests of one user alternate between nodes,
 * carrying the cursor, and see every event once, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventFrame, PresenceFrame, Results, ServerFrame, Tokens, TypingFrame } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { poll } from '../helpers/poll-link.ts';
import { openSse } from '../helpers/sse-link.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { Cluster } from './support/cluster.ts';
import type { NodeProcess } from './support/nodes.ts';
import { clusterSkip } from './support/services.ts';

const skip = await clusterSkip();

const isMessage = (f: ServerFrame, body: string): boolean => f.t === 'ev' && f.e.k === 'message' && f.e.msg.body === body;
const receiptAt = (conv: string, field: 'delivered' | 'read', seq: number) => (f: ServerFrame) =>
  f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === conv && f.e[field] >= seq;

describe('three nodes', { skip, timeout: 60_000 }, () => {
  let cluster: Cluster;
  let n: NodeProcess[];
  const clients: TestClient[] = [];
  let a: Tokens, b: Tokens, c: Tokens;
  let ca: TestClient, cb: TestClient, cc: TestClient;

  const open = async (node: NodeProcess, t: Tokens): Promise<TestClient> => {
    const client = new TestClient(await connectWs(node.url, t.access));
    clients.push(client);
    const w = await client.welcome();
    assert.equal(w.node, node.id);
    return client;
  };

  before(async () => {
    cluster = await Cluster.start(['t1', 't2', 't3']);
    n = cluster.nodes;
    [a, b, c] = await Promise.all([cluster.register('a'), cluster.register('b'), cluster.register('c')]);
    [ca, cb, cc] = await Promise.all([open(n[0]!, a), open(n[1]!, b), open(n[2]!, c)]);
  });
  after(async () => {
    for (const x of clients) x.close();
    await cluster?.close();
  });

  it('1:1 across nodes: message, then delivered and read reach the sender', async () => {
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.handle })).conversation;
    const sent = await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'd1', body: 'hi b' });
    await cb.waitFor((f) => isMessage(f, 'hi b'), 5000, 'message at b (t2)');
    await ca.waitFor(receiptAt(conv.id, 'delivered', sent.seq), 5000, 'delivered at a (t1)');
    await cb.request({ t: 'read', conv: conv.id, seq: sent.seq });
    await ca.waitFor(receiptAt(conv.id, 'read', sent.seq), 5000, 'read at a (t1)');
    // And the other way round.
    const back = await cb.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'd2', body: 'hi a' });
    await ca.waitFor((f) => isMessage(f, 'hi a'), 5000, 'message at a');
    await cb.waitFor(receiptAt(conv.id, 'delivered', back.seq), 5000, 'delivered at b');
  });

  it('group across three nodes: all-members receipts reach the sender', async () => {
    const conv = (await ca.request<Results['conv.group']>({ t: 'conv.group', name: 'trio', members: [b.handle, c.handle] })).conversation;
    const sent = await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'g1', body: 'hi all' });
    await Promise.all([cb.waitFor((f) => isMessage(f, 'hi all'), 5000, 'at b'), cc.waitFor((f) => isMessage(f, 'hi all'), 5000, 'at c')]);
    await ca.waitFor(receiptAt(conv.id, 'delivered', sent.seq), 5000, 'group delivered at a');
    await cb.request({ t: 'read', conv: conv.id, seq: sent.seq });
    // Only b has read: the all-members read watermark must not have moved yet.
    const early = ca.events().some((f) => receiptAt(conv.id, 'read', sent.seq)(f));
    assert.equal(early, false, 'read receipt waits for every member');
    await cc.request({ t: 'read', conv: conv.id, seq: sent.seq });
    await ca.waitFor(receiptAt(conv.id, 'read', sent.seq), 5000, 'group read at a');
    const info = await ca.request<Results['msg.info']>({ t: 'msg.info', conv: conv.id, seq: sent.seq });
    assert.ok(info.members.filter((m) => m.user !== a.user).every((m) => m.delivered && m.read));
  });

  it('typing and presence cross nodes', async () => {
    const conv = (await cc.request<Results['conv.direct']>({ t: 'conv.direct', user: a.handle })).conversation;
    cc.link.send({ t: 'typing', conv: conv.id, on: true });
    const typing = await ca.waitFor<TypingFrame>((f) => f.t === 'typing' && f.conv === conv.id && f.user === c.user, 5000, 'typing at a');
    assert.equal(typing.on, true);

    const sub = await ca.request<Results['presence.sub']>({ t: 'presence.sub', users: [c.user] });
    assert.equal(sub.states[0]?.online, true, 'c is online on t3');
    const seen = ca.frames.length;
    cc.close();
    await ca.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === c.user && !f.online && ca.frames.indexOf(f) >= seen, 5000, 'c offline at a');
    cc = await open(n[1]!, c);
    await ca.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === c.user && f.online && ca.frames.indexOf(f) >= seen, 5000, 'c online again (t2)');
  });

  it('long polls of one user alternate between nodes, carrying the cursor', async () => {
    const d = await cluster.register('d');
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: d.handle })).conversation;
    const got: EventFrame[] = [];
    const nodesSeen: string[] = [];
    let cursor = 0;
    for (let i = 0; i < 6; i++) {
      await ca.request({ t: 'send', conv: conv.id, cmid: `lp${i}`, body: `lp${i}` });
      const node = n[i % 3]!;
      const res = await poll(node.url, d.access, { cursor, wait: 2000 });
      assert.equal(res.status, 200);
      for (const f of res.body.frames) {
        if (f.t === 'welcome') nodesSeen.push(f.node);
        if (f.t === 'ev') {
          got.push(f);
          cursor = f.c;
        }
      }
    }
    assert.deepEqual(nodesSeen, ['t1', 't2', 't3', 't1', 't2', 't3']);
    const bodies = got.filter((f) => f.e.k === 'message').map((f) => (f.e.k === 'message' ? f.e.msg.body : ''));
    assert.deepEqual(bodies, ['lp0', 'lp1', 'lp2', 'lp3', 'lp4', 'lp5']);
    const cursors = got.map((f) => f.c);
    assert.deepEqual(cursors, [...new Set(cursors)].sort((x, y) => x - y), 'each event once, in cursor order');
  });

  it('SSE streams of one user alternate between nodes, resuming by Last-Event-ID', async () => {
    const e = await cluster.register('e');
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: e.handle })).conversation;
    const got: EventFrame[] = [];
    const nodesSeen: string[] = [];
    let last: string | undefined;
    for (let i = 0; i < 3; i++) {
      const node = n[i % 3]!;
      const frames: ServerFrame[] = [];
      const stream = await openSse(node.url, { token: e.access, ...(last !== undefined ? { lastEventId: last } : {}) }, (ev) => {
        if (ev.event === 'message') frames.push(JSON.parse(ev.data) as ServerFrame);
      });
      assert.equal(stream.status, 200);
      await ca.request({ t: 'send', conv: conv.id, cmid: `sse${i}`, body: `sse${i}` });
      const deadline = Date.now() + 5000;
      while (!frames.some((f) => isMessage(f, `sse${i}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      stream.abort();
      await stream.done;
      for (const f of frames) {
        if (f.t === 'welcome') nodesSeen.push(f.node);
        if (f.t === 'ev') got.push(f);
      }
      last = stream.parser.lastEventId ?? last;
    }
    assert.deepEqual(nodesSeen, ['t1', 't2', 't3']);
    const bodies = got.filter((f) => f.e.k === 'message').map((f) => (f.e.k === 'message' ? f.e.msg.body : ''));
    assert.deepEqual(bodies, ['sse0', 'sse1', 'sse2']);
    const cursors = got.map((f) => f.c);
    assert.deepEqual(cursors, [...new Set(cursors)].sort((x, y) => x - y), 'each event once, in cursor order');
  });
});
