/**
 * A flapping link: both clients reach the node through a TCP proxy that cuts each connection after
 * a random lifetime (RST, mid-frame). While it flaps, the clients exchange 2,000 messages each way.
 * Every message must arrive exactly once and in order, each be stored once (the outbox retries
 * with the same client message id), and every sent message must reach `read` at its sender after
 * the receiver marks the conversation read.
 *
 * Shared by flapping.test.ts (auto, i.e. WebSocket), flapping-sse.test.ts, flapping-longpoll.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client, type ClientEvents, type ClientOptions, type Message } from '../src/index.ts';
import { register, startNode, until, type TestNode } from './helpers.ts';
import { flakyTcpProxy, type Proxy } from './proxies.ts';

/**
 * `n` messages each way: 2,000 over WebSocket. Over SSE and long polling each send is one
 * `POST /v1/cmd` (see http-commands.ts for why sends are not batched), which costs several ms per
 * request here, so those variants use fewer messages to stay well inside the time budget.
 */
export function flappingSuite(transport: NonNullable<ClientOptions['transport']>, skip: string | false = false, N = 2000): void {
  describe(`flapping link (${transport})`, { skip }, () => {
    let server: TestNode;
    let proxy: Proxy;
    const clients: Client[] = [];

    before(async () => {
      server = await startNode();
      proxy = await flakyTcpProxy(server.port, { minMs: 150, maxMs: 900 });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await proxy.close();
      await server.stop();
    });

    it(`delivers ${N} messages each way exactly once, in order, and all reach "read"`, { timeout: 300_000 }, async () => {
      const a = await register(server.url, 'a');
      const b = await register(server.url, 'b');
      const options = { url: proxy.url, transport, backoff: { initialMs: 20, maxMs: 300 }, welcomeTimeoutMs: 3000, requestTimeoutMs: 5000 };
      const ca = connect({ ...options, token: a.access });
      const cb = connect({ ...options, token: b.access });
      clients.push(ca, cb);
      const transports = new Set<string>();
      const connects = { a: 0, b: 0 };
      const fallbacks: ClientEvents['fallback'][] = [];
      ca.on('connected', (e) => (connects.a++, transports.add(e.transport)));
      cb.on('connected', (e) => (connects.b++, transports.add(e.transport)));
      ca.on('fallback', (f) => fallbacks.push(f));
      cb.on('fallback', (f) => fallbacks.push(f));

      const atA: Message[] = [];
      const atB: Message[] = [];
      ca.on('message', (m) => m.from === b.user && atA.push(m));
      cb.on('message', (m) => m.from === a.user && atB.push(m));
      await Promise.all([ca.whenConnected(), cb.whenConnected()]);
      let conv = '';
      // Even a command may meet a cut; the application retries what is not a send.
      for (;;) {
        try {
          conv = (await ca.direct(b.user)).id;
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }

      const started = Date.now();
      const sentA = Promise.all(Array.from({ length: N }, (_, i) => ca.send(conv, `a${i}`)));
      const sentB = Promise.all(Array.from({ length: N }, (_, i) => cb.send(conv, `b${i}`)));
      const [resA, resB] = await Promise.all([sentA, sentB]);
      const sentAt = Date.now() - started;
      await until(() => atA.length >= N && atB.length >= N, 30_000, 'all messages');
      const elapsed = Date.now() - started;

      // Exactly once, in order.
      assert.deepEqual(
        atB.map((m) => m.body),
        Array.from({ length: N }, (_, i) => `a${i}`),
      );
      assert.deepEqual(
        atA.map((m) => m.body),
        Array.from({ length: N }, (_, i) => `b${i}`),
      );
      // Stored once: seqs are distinct and the conversation holds exactly 2N messages.
      const seqs = new Set([...resA, ...resB].map((r) => r.seq));
      assert.equal(seqs.size, 2 * N);
      assert.equal(Math.max(...seqs), 2 * N);

      // Read everything; every message reaches `read` at its sender.
      await Promise.all([cb.markRead(conv, Math.max(...atB.map((m) => m.seq))), ca.markRead(conv, Math.max(...atA.map((m) => m.seq)))]);
      await until(() => resA.every((r) => ca.tick({ conv: conv as never, seq: r.seq }) === 'read'), 20_000, 'read ticks at A');
      await until(() => resB.every((r) => cb.tick({ conv: conv as never, seq: r.seq }) === 'read'), 20_000, 'read ticks at B');
      const readAt = Date.now() - started;

      assert.ok(proxy.stats.cuts >= 5, `the link flapped (${proxy.stats.cuts} cuts)`);
      assert.ok(connects.a > 1 && connects.b > 1, `both reconnected (${connects.a}, ${connects.b})`);
      process.stdout.write(
        `# flapping: all sent ${sentAt} ms, received ${elapsed} ms, read ${readAt} ms for ${2 * N} messages, ${proxy.stats.cuts} cuts, connects a=${connects.a} b=${connects.b}, ` +
          `transports ${[...transports].join('/')}, fallbacks ${fallbacks.length}\n`,
      );
    });
  });
}
