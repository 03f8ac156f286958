import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs, rawWsWelcomed } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('websocket limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { maxFrameBytes: 16 * 1024, maxFramesPerSecond: 50, maxBodyLength: 1000, maxQueueBytes: 256 * 1024 } });
  });
  after(async () => server.stop());

  async function client(token: string, cursor?: number): Promise<TestClient> {
    const c = new TestClient(await connectWs(server.url, token, cursor));
    await c.welcome();
    return c;
  }

  it('an oversized frame closes with 1009; what was acked before survives', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const sent = await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'before', body: 'kept' });
    ca.link.send(JSON.stringify({ t: 'send', id: 'big', conv: conv.id, cmid: 'big', body: 'x'.repeat(20_000) }));
    assert.equal((await ca.closed()).code, 1009);
    const cb = await client(b.access);
    const ev = await cb.waitFor((f) => f.t === 'ev' && f.e.k === 'message');
    assert.equal(ev.t === 'ev' && ev.e.k === 'message' && ev.e.msg.seq, sent.seq);
  });

  it('a body over maxBodyLength is refused with TOO_LARGE and the connection stays', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    await assert.rejects(ca.request({ t: 'send', conv: conv.id, cmid: 'long', body: 'y'.repeat(1001) }), { code: 'TOO_LARGE' });
    assert.ok((await ca.request<Results['ping']>({ t: 'ping' })).now > 0);
  });

  it('a flood closes with 4008; acknowledged sends are all stored', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) acked.push((await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: `f${i}`, body: 'before flood' })).seq);
    for (let i = 0; i < 500; i++) ca.link.send({ t: 'ping' });
    assert.equal((await ca.closed()).code, 4008);
    const again = await client(a.access);
    const hist = await again.request<Results['history']>({ t: 'history', conv: conv.id, limit: 100 });
    for (const seq of acked) assert.ok(hist.messages.some((m) => m.seq === seq), `seq ${seq} kept`);
  });

  it('a consumer that stops reading is disconnected with 4009 and resyncs from its cursor', async () => {
    // Its own server: the sender here must not hit the flood limit.
    const fast = await startServer({ limits: { maxFramesPerSecond: 100_000, maxQueueBytes: 256 * 1024 } });
    after(() => fast.stop());
    const server = fast;
    const client = async (token: string, cursor?: number) => {
      const c = new TestClient(await connectWs(server.url, token, cursor));
      await c.welcome();
      return c;
    };
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const slow = await rawWsWelcomed(server.url, b.access);
    const closed = new Promise<number>((r) => slow.on('close', (code) => r(code)));
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    const body = 'z'.repeat(30_000);
    let n = 0;
    const deadline = Date.now() + 20_000;
    // Until the server drops b's session (the paused client itself cannot notice yet).
    const connected = () => server.node.hub.sessionsOf(b.user as never).length > 0;
    assert.ok(connected());
    while (connected() && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 10 }, () => ca.request({ t: 'send', conv: conv.id, cmid: `s${n++}`, body })));
    }
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    // The server closes with 4009; a client that reads nothing cannot see the close frame and is
    // cut after the grace period (1006 on its side). Either way it was disconnected.
    assert.ok([4009, 1006].includes(await closed), `closed with ${await closed}`);
    const fresh = await client(b.access, 0);
    const deadline2 = Date.now() + 10_000;
    while (fresh.eventsOf('message').length < n && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(fresh.eventsOf('message').map((f) => f.e.msg.seq), Array.from({ length: n }, (_, i) => i + 1));
  });

  it('a cursor ahead of the log gets BAD_CURSOR and resumes from the last ack', async () => {
    const a = await register(server.url);
    const c = await client(a.access, 999_999);
    const err = await c.waitFor((f) => f.t === 'err' && f.code === 'BAD_CURSOR');
    assert.equal(err.t, 'err');
    const w = await c.welcome();
    assert.ok(w.from <= w.head);
  });
});
