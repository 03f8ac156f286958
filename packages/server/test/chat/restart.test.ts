import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReconnectFrame, Results } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('restarts and drains', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.stop());

  const client = async (token: string, cursor?: number) => {
    const c = new TestClient(await connectWs(server.url, token, cursor));
    await c.welcome();
    return c;
  };

  it('a server restart between send and reconnect loses nothing', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const acked = await Promise.all(Array.from({ length: 30 }, (_, i) => ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: `r${i}`, body: `before restart ${i}` })));
    const drained = ca.waitFor<ReconnectFrame>((f) => f.t === 'reconnect');
    await server.restart();
    assert.ok((await drained).retryMs >= 0, 'told to reconnect');
    assert.equal((await ca.closed()).code, 1012);
    // The recipient was never connected: everything comes from the store of the new process.
    const cb = await client(b.access);
    const deadline = Date.now() + 5000;
    while (cb.eventsOf('message').length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      cb.eventsOf('message').map((f) => f.e.msg.seq),
      acked.map((x) => x.seq).sort((x, y) => x - y),
    );
    // Tokens stay valid across the restart, and the sender resumes where it was.
    const again = await client(a.access, ca.lastCursor());
    const next = await again.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'after', body: 'after restart' });
    assert.equal(next.seq, 31);
    const delivered = await again.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.delivered >= 30);
    assert.ok(delivered);
  });

  it('a device that reconnects without a cursor resumes after its last ack', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const cb = await client(b.access);
    await ca.request({ t: 'send', conv: conv.id, cmid: 'one', body: '1' });
    const first = await cb.waitFor((f) => f.t === 'ev' && f.e.k === 'message');
    // An ack with an id is answered once it is committed (acks otherwise wait ackDelayMs).
    await cb.request({ t: 'ack', cursor: first.t === 'ev' ? first.c : 0 });
    cb.close();
    await ca.request({ t: 'send', conv: conv.id, cmid: 'two', body: '2' });
    const cb2 = await client(b.access);
    const ev = await cb2.waitFor((f) => f.t === 'ev' && f.e.k === 'message');
    assert.equal(ev.t === 'ev' && ev.e.k === 'message' && ev.e.msg.body, '2');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cb2.eventsOf('message').length, 1, 'message 1 is not replayed');
  });
});
