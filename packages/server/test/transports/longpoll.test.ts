/** Long-polling specifics: hold and wake, empty answers, pages, acks by cursor, restart, drain, presence. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventFrame, PresenceFrame, Results, ServerFrame, Tokens, WelcomeFrame } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { poll, type PollAnswer } from '../helpers/poll-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { postCommand } from '../helpers/sse-link.ts';
import { connectWs } from '../helpers/ws-link.ts';

/** Retries a network failure: right after a restart a pooled socket of the old process may be picked. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function directConv(url: string, a: Tokens, b: Tokens): Promise<string> {
  const [res] = await postCommand(url, a.access, { t: 'conv.direct', id: 1, user: b.handle });
  return (res as { data: Results['conv.direct'] }).data.conversation.id;
}

async function send(url: string, a: Tokens, conv: string, cmid: string): Promise<void> {
  const [res] = await retrying(() => postCommand(url, a.access, { t: 'send', id: cmid, conv, cmid, body: cmid }));
  assert.equal(res?.t, 'res', JSON.stringify(res));
}

const evs = (a: PollAnswer) => a.frames.filter((f): f is EventFrame => f.t === 'ev');
const welcome = (a: PollAnswer) => a.frames.find((f): f is WelcomeFrame => f.t === 'welcome');
const seqs = (frames: ServerFrame[], conv: string) =>
  frames.flatMap((f) => (f.t === 'ev' && f.e.k === 'message' && f.e.msg.conv === conv ? [f.e.msg.seq] : []));

describe('long polling', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { syncPageSize: 5, longPollHoldMs: 3000 } });
  });
  after(async () => {
    await server.stop();
  });

  it('a held poll returns as soon as a message arrives', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const conv = await directConv(server.url, a, b);
    const head = welcome((await poll(server.url, b.access, { wait: 0 })).body)!.head;
    const t0 = Date.now();
    const held = poll(server.url, b.access, { cursor: head, wait: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await send(server.url, a, conv, 'wake');
    const answer = await held;
    const took = Date.now() - t0;
    assert.equal(answer.status, 200);
    assert.deepEqual(seqs(answer.body.frames, conv), [1]);
    assert.ok(took < 1000, `answered after ${took} ms`);
  });

  it('with nothing to say, answers after `wait` with no events; wait is capped by the hold limit', async () => {
    const a = await register(server.url);
    const head = welcome((await poll(server.url, a.access, { wait: 0 })).body)!.head;
    let t0 = Date.now();
    const answer = await poll(server.url, a.access, { cursor: head, wait: 200 });
    const took = Date.now() - t0;
    assert.equal(answer.status, 200);
    assert.equal(evs(answer.body).length, 0);
    assert.equal(welcome(answer.body)?.from, head);
    assert.ok(took >= 180 && took < 1500, `answered after ${took} ms`);
    t0 = Date.now();
    await poll(server.url, a.access, { cursor: head, wait: 60_000 });
    assert.ok(Date.now() - t0 < 4500, 'longPollHoldMs (3 s) caps wait');
  });

  it('answers at most one page of events; the next polls carry on from their cursor', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const conv = await directConv(server.url, a, b);
    for (let i = 0; i < 12; i++) await send(server.url, a, conv, `p${i}`);
    const got: ServerFrame[] = [];
    let cursor = 0;
    for (let i = 0; i < 10 && seqs(got, conv).length < 12; i++) {
      const { body } = await poll(server.url, b.access, { cursor, wait: 0 });
      assert.ok(evs(body).length <= 5, 'syncPageSize');
      got.push(...body.frames);
      cursor = evs(body).at(-1)?.c ?? cursor;
    }
    assert.deepEqual(seqs(got, conv), Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('the cursor of a poll acks: the sender hears "delivered"', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = new TestClient(await connectWs(server.url, a.access));
    await ca.welcome();
    const conv = await directConv(server.url, a, b);
    await send(server.url, a, conv, 'ack-me');
    const first = await poll(server.url, b.access, { cursor: 0, wait: 0 });
    const last = evs(first.body).at(-1)!.c;
    assert.equal(ca.eventsOf('receipt').length, 0, 'not acked yet');
    void poll(server.url, b.access, { cursor: last, wait: 200 });
    await ca.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === conv && f.e.delivered === 1, 3000, 'delivered receipt');
    ca.close();
  });

  it('a bad token is a 401 with a code; a bad cursor or wait a 400', async () => {
    const bad = await poll(server.url, 'nope', { cursor: 0 });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.t, 'err');
    assert.equal(bad.body.code, 'UNAUTHORIZED');
    const a = await register(server.url);
    for (const q of ['cursor=x', 'wait=-1']) {
      const res = await fetch(`${server.url}/v1/poll?token=${a.access}&${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(((await res.json()) as { code: string }).code, 'INVALID');
    }
  });

  it('presence: watches outlive a poll; online while polling, offline at once when a poll is dropped', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    await directConv(server.url, a, b);
    // a long-polls and watches b over POST /v1/cmd.
    const head = welcome((await poll(server.url, a.access, { wait: 0 })).body)!.head;
    const [sub] = await postCommand(server.url, a.access, { t: 'presence.sub', id: 's', users: [b.user] });
    assert.equal(sub?.t, 'res');
    // b polls: online. a's next poll (a new session) still gets b's presence.
    const bHead = welcome((await poll(server.url, b.access, { wait: 0 })).body)!.head;
    const ac = new AbortController();
    const bPoll = poll(server.url, b.access, { cursor: bHead, wait: 10_000, signal: ac.signal }).catch(() => null);
    const online = await poll(server.url, a.access, { cursor: head, wait: 2000 });
    const on = online.body.frames.find((f): f is PresenceFrame => f.t === 'presence');
    assert.equal(on?.user, b.user);
    assert.equal(on?.online, true);
    // b drops its held poll: offline now, not after the grace period.
    const t0 = Date.now();
    ac.abort();
    await bPoll;
    const offline = await poll(server.url, a.access, { cursor: head, wait: 2000 });
    const off = offline.body.frames.find((f): f is PresenceFrame => f.t === 'presence');
    assert.equal(off?.online, false);
    assert.ok(Date.now() - t0 < 1500);
  });
});

describe('long polling across a server restart', () => {
  it('a restart between two polls loses nothing and repeats nothing', async () => {
    const server = await startServer();
    try {
      const [a, b] = [await register(server.url), await register(server.url)];
      const conv = await directConv(server.url, a, b);
      for (let i = 0; i < 10; i++) await send(server.url, a, conv, `before${i}`);
      const first = await poll(server.url, b.access, { cursor: 0, wait: 0 });
      const cursor = evs(first.body).at(-1)!.c;
      await server.restart();
      for (let i = 0; i < 10; i++) await send(server.url, a, conv, `after${i}`);
      const second = await retrying(() => poll(server.url, b.access, { cursor, wait: 0 }));
      assert.deepEqual([...seqs(first.body.frames, conv), ...seqs(second.body.frames, conv)], Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await server.stop();
    }
  });

  it('a poll held while the node drains is answered with reconnect and close 1012', async () => {
    const server = await startServer();
    try {
      const a = await register(server.url);
      const head = welcome((await poll(server.url, a.access, { wait: 0 })).body)!.head;
      const held = poll(server.url, a.access, { cursor: head, wait: 20_000 });
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      const stopping = server.node.stop();
      const answer = await held;
      assert.ok(Date.now() - t0 < 1000);
      assert.ok(answer.body.frames.some((f) => f.t === 'reconnect'));
      assert.equal(answer.body.close?.code, 1012);
      await stopping;
    } finally {
      await server.stop();
    }
  });
});
