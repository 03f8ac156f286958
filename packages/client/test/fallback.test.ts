/**
 * Transport negotiation behind hostile proxies: a proxy that refuses WebSocket upgrades sends the
 * client to SSE; one that also buffers event streams (so no `welcome` ever arrives) sends it on
 * to long polling. Either way the client works: messages flow both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client, type ClientEvents, type Message } from '../src/index.ts';
import { register, startNode, until, type TestNode } from './helpers.ts';
import { httpProxy, type Proxy } from './proxies.ts';

describe('transport fallback', () => {
  let server: TestNode;
  const proxies: Proxy[] = [];
  const clients: Client[] = [];

  before(async () => {
    server = await startNode();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(proxies.map((p) => p.close()));
    await server.stop();
  });

  async function exchangeThrough(proxyUrl: string): Promise<{ client: Client; fallbacks: ClientEvents['fallback'][] }> {
    const a = await register(server.url, 'a');
    const b = await register(server.url, 'b');
    const fallbacks: ClientEvents['fallback'][] = [];
    const client = connect({ url: proxyUrl, token: a.access, welcomeTimeoutMs: 1500 });
    clients.push(client);
    client.on('fallback', (f) => fallbacks.push(f));
    const peer = connect({ url: server.url, token: b.access });
    clients.push(peer);
    await Promise.all([client.whenConnected(), peer.whenConnected()]);
    const conv = (await client.direct(b.user)).id;
    const atPeer: Message[] = [];
    const atClient: Message[] = [];
    peer.on('message', (m) => m.from === a.user && atPeer.push(m));
    client.on('message', (m) => m.from === b.user && atClient.push(m));
    await client.send(conv, 'through the proxy');
    await peer.send(conv, 'and back');
    await until(() => atPeer.length === 1 && atClient.length === 1, 5000, 'messages both ways');
    return { client, fallbacks };
  }

  it('falls back to SSE when the WebSocket upgrade is refused', async () => {
    const proxy = await httpProxy(server.url, { refuseUpgrade: true });
    proxies.push(proxy);
    const { client, fallbacks } = await exchangeThrough(proxy.url);
    assert.equal(client.transport, 'sse');
    assert.deepEqual(
      fallbacks.map((f) => [f.transport, f.why, f.to]),
      [['websocket', 'refused', 'sse']],
    );
    assert.ok(proxy.stats.upgradesRefused >= 1);
  });

  it('falls back to long polling when the event stream is buffered', async () => {
    const proxy = await httpProxy(server.url, { refuseUpgrade: true, bufferEventStream: true });
    proxies.push(proxy);
    const started = Date.now();
    const { client, fallbacks } = await exchangeThrough(proxy.url);
    assert.equal(client.transport, 'longpoll');
    assert.deepEqual(
      fallbacks.map((f) => [f.transport, f.why, f.to]),
      [
        ['websocket', 'refused', 'sse'],
        ['sse', 'silent', 'longpoll'],
      ],
    );
    assert.ok(proxy.stats.streamsBuffered >= 1);
    assert.ok(Date.now() - started < 10_000);
  });

  it('uses WebSocket when nothing is in the way', async () => {
    const proxy = await httpProxy(server.url, {});
    proxies.push(proxy);
    const { client, fallbacks } = await exchangeThrough(proxy.url);
    assert.equal(client.transport, 'websocket');
    assert.deepEqual(fallbacks, []);
  });

  it('does not fall back on a bad token, even behind a proxy', async () => {
    const proxy = await httpProxy(server.url, { refuseUpgrade: true });
    proxies.push(proxy);
    const client = connect({ url: proxy.url, token: 'expired-or-bogus', welcomeTimeoutMs: 1500 });
    clients.push(client);
    const tried: string[] = [];
    client.on('state', (s) => s.transport && tried.push(s.transport));
    const err = await client.next('error');
    assert.equal((err as { code?: string }).code, 'UNAUTHORIZED');
    await until(() => client.state === 'unauthorized', 5000, 'unauthorized');
    // WebSocket was refused by the proxy (a fallback); SSE then met the 401 and stopped there.
    assert.deepEqual([...new Set(tried)], ['websocket', 'sse']);
  });
});
