/**
 * The SDK's behaviour, run once per transport (websocket.test.ts, sse.test.ts, longpoll.test.ts)
 * against a real node in this process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Tokens } from '@parley/protocol';
import { connect, MemoryStorage, ParleyError, type Client, type ClientOptions, type Message, type TransportName } from '../src/index.ts';
import { register, startNode, until, type TestNode } from './helpers.ts';

/** `extra`: options for every client of the suite (e.g. a platform override), named in `label`. */
export function transportSuite(transport: TransportName, skip: string | false, extra: Partial<ClientOptions> = {}, label = ''): void {
  describe(`client over ${transport}${label}`, { skip }, () => {
    let server: TestNode;
    const clients: Client[] = [];
    const open = (token: string, more: Partial<ClientOptions> = {}): Client => {
      const c = connect({ url: server.url, token, transport, backoff: { initialMs: 50, maxMs: 500 }, ...extra, ...more });
      clients.push(c);
      return c;
    };
    const pair = async (): Promise<{ a: Tokens; b: Tokens; ca: Client; cb: Client; conv: string }> => {
      const a = await register(server.url, 'a');
      const b = await register(server.url, 'b');
      const ca = open(a.access);
      const cb = open(b.access);
      await Promise.all([ca.whenConnected(), cb.whenConnected()]);
      const conv = (await ca.direct(b.user)).id;
      return { a, b, ca, cb, conv };
    };

    before(async () => {
      server = await startNode();
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await server.stop();
    });

    it('delivers messages once, in order, and ticks go pending -> sent -> delivered -> read', async () => {
      const { ca, cb, conv } = await pair();
      assert.equal(ca.transport, transport);
      const got: Message[] = [];
      cb.on('message', (m) => {
        if (m.from !== cb.user) got.push(m);
      });
      assert.equal(ca.tick({ conv: conv as never }), 'pending');
      const sends = Array.from({ length: 20 }, (_, i) => ca.send(conv, `hello ${i}`));
      assert.equal(ca.pending().length, 20, 'queued sends are pending at once');
      assert.equal(ca.tick(ca.pending()[0]!), 'pending');
      const results = await Promise.all(sends);
      assert.deepEqual(
        results.map((r) => r.seq),
        results.map((_, i) => results[0]!.seq + i),
      );
      await until(() => got.length === 20, 5000, 'messages at B');
      assert.deepEqual(
        got.map((m) => m.body),
        Array.from({ length: 20 }, (_, i) => `hello ${i}`),
      );
      const last = results[19]!.seq;
      // B's device acked the events: A's messages are delivered.
      await until(() => ca.tick({ conv: conv as never, seq: last }) === 'delivered', 5000, 'delivered tick');
      await cb.markRead(conv, last);
      await until(() => ca.tick({ conv: conv as never, seq: last }) === 'read', 5000, 'read tick');
      assert.equal(ca.tick({ conv: conv as never, seq: results[0]!.seq }), 'read');
      assert.equal(ca.pending().length, 0);
    });

    it('untilTick resolves for a tick reached before the call, and waits for one reached later', async () => {
      const { ca, cb, conv } = await pair();
      const first = await ca.send(conv, 'one');
      const msg = { conv: conv as never, seq: first.seq };
      // Delivered happens without B doing anything (its device acks); read waits for B.
      let read = false;
      const readWait = ca.untilTick(msg, 'read').then((t) => ((read = true), t));
      assert.equal(await ca.untilTick(msg, 'delivered'), 'delivered');
      assert.equal(read, false, 'not read before B marks it');
      await cb.markRead(conv, first.seq);
      assert.equal(await readWait, 'read');
      // The receipt is in: later waits (for read or anything before it) resolve at once.
      assert.equal(ca.tick(msg), 'read');
      assert.equal(await ca.untilTick(msg, 'read'), 'read');
      assert.equal(await ca.untilTick(msg, 'sent'), 'read');
      // A later message's wait is not satisfied by the older watermark.
      const second = await ca.send(conv, 'two');
      const later = { conv: conv as never, seq: second.seq };
      assert.notEqual(ca.tick(later), 'read');
      const laterRead = ca.untilTick(later, 'read');
      await cb.markRead(conv, second.seq);
      assert.equal(await laterRead, 'read');
    });

    it('a pending next or untilTick rejects with ClosedError when the client closes, and so does a later one', async () => {
      const { ca, conv } = await pair();
      const sent = await ca.send(conv, 'unread');
      const msg = { conv: conv as never, seq: sent.seq };
      // Nobody marks it read and nobody else writes: both would wait forever without close().
      const readWait = ca.untilTick(msg, 'read');
      const nextWait = ca.next('message', (m) => m.body === 'never sent');
      await ca.close();
      await assert.rejects(readWait, (err: Error) => err.name === 'ClosedError');
      await assert.rejects(nextWait, (err: Error) => err.name === 'ClosedError');
      await assert.rejects(ca.next('receipt'), (err: Error) => err.name === 'ClosedError');
      await assert.rejects(ca.untilTick(msg, 'read'), (err: Error) => err.name === 'ClosedError');
    });

    it('shows typing on and off', async () => {
      const { ca, cb, conv } = await pair();
      const seen: boolean[] = [];
      cb.on('typing', (t) => {
        if (t.conv === conv) seen.push(t.on);
      });
      ca.typing(conv);
      ca.typing(conv);
      await until(() => seen.includes(true), 5000, 'typing on');
      ca.stopTyping(conv);
      await until(() => seen.at(-1) === false, 5000, 'typing off');
      assert.equal(seen.filter((on) => on).length, 1, 'two calls within the throttle send one frame');
    });

    it('reports presence of watched users, renewed across reconnects', async () => {
      const { b, ca, cb } = await pair();
      const states = await ca.subscribePresence([b.user]);
      assert.equal(states[0]?.online, true);
      const offline = ca.next('presence', (p) => p.user === b.user && !p.online);
      await cb.close();
      const p = await offline;
      assert.equal(typeof p.lastSeen, 'number');
      const online = ca.next('presence', (s) => s.user === b.user && s.online);
      const again = open(b.access);
      await again.whenConnected();
      await online;
    });

    it('resumes from the stored cursor without duplicates', async () => {
      const a = await register(server.url, 'a');
      const b = await register(server.url, 'b');
      const ca = open(a.access);
      const storage = new MemoryStorage();
      const seen: number[] = [];
      const cb1 = open(b.access, { storage });
      cb1.on('message', (m) => seen.push(m.seq));
      await Promise.all([ca.whenConnected(), cb1.whenConnected()]);
      const conv = (await ca.direct(b.user)).id;
      for (let i = 0; i < 5; i++) await ca.send(conv, `first ${i}`);
      await until(() => seen.length === 5, 5000, 'first five');
      await cb1.close();
      assert.ok(Number(await storage.get('cursor')) > 0, 'cursor persisted');
      for (let i = 0; i < 5; i++) await ca.send(conv, `second ${i}`);
      const cb2 = open(b.access, { storage });
      cb2.on('message', (m) => seen.push(m.seq));
      await until(() => seen.length === 10, 5000, 'all ten');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('keeps unsent messages across a server drain and restart, storing each once', async () => {
      const { ca, cb, conv } = await pair();
      const got: string[] = [];
      cb.on('message', (m) => {
        if (m.from !== cb.user) got.push(m.body);
      });
      const states: string[] = [];
      ca.on('state', (s) => states.push(s.state));
      await ca.send(conv, 'before');
      const restarting = server.restart();
      // Queued while the node drains and restarts: sent (once) when the client is back.
      const during = [ca.send(conv, 'during 1'), ca.send(conv, 'during 2')];
      await restarting;
      const results = await Promise.all(during);
      assert.equal(results[1]!.seq, results[0]!.seq + 1);
      await until(() => got.length === 3, 10_000, 'all three at B');
      assert.deepEqual(got, ['before', 'during 1', 'during 2']);
      assert.ok(states.includes('disconnected'), `states: ${states.join(',')}`);
      assert.equal(ca.transport, transport);
      const h = await cb.history(conv, { limit: 50 });
      assert.deepEqual(
        h.messages.map((m) => m.body),
        ['before', 'during 1', 'during 2'],
      );
    });

    it('rejects a send that fails for good, and keeps going', async () => {
      const { ca, conv } = await pair();
      const failed = ca.next('sendFailed');
      await assert.rejects(ca.send('c_no_such_conversation', 'x'), (err: ParleyError) => err.code === 'NOT_FOUND');
      assert.equal((await failed).error.code, 'NOT_FOUND');
      const ok = await ca.send(conv, 'still fine');
      assert.ok(ok.seq >= 1);
    });

    it('wraps conversation commands and history', async () => {
      const { a, b, ca, cb } = await pair();
      const c = await register(server.url, 'c');
      const g = await ca.group('team', [b.user]);
      assert.equal(g.kind, 'group');
      const joined = cb.next('conv', (e) => e.conv === g.id);
      await ca.addMembers(g.id, [c.user]);
      await ca.rename(g.id, 'renamed');
      await joined;
      const sent = await ca.send(g.id, 'hi team');
      const info = await ca.messageInfo(g.id, sent.seq);
      assert.equal(info.members.length, 3);
      const list = await cb.conversations();
      assert.ok(list.some((x) => x.id === g.id && x.name === 'renamed'));
      const h = await cb.history(g.id);
      assert.equal(h.messages.at(-1)?.body, 'hi team');
      assert.equal((await cb.findUser(a.handle)).user, a.user);
      assert.equal(typeof (await ca.ping()), 'number');
    });

    it('reports a bad token, does not fall back, and recovers with refreshToken', async () => {
      const a = await register(server.url, 'a');
      const bad = open('not-a-token', { refreshToken: () => null });
      const fallbacks: string[] = [];
      bad.on('fallback', (f) => fallbacks.push(f.transport));
      const err = await bad.next('error');
      assert.equal((err as ParleyError).code, 'UNAUTHORIZED');
      await until(() => bad.state === 'unauthorized', 5000, 'state unauthorized');
      await assert.rejects(bad.whenConnected(), (e: ParleyError) => e.code === 'UNAUTHORIZED');
      assert.deepEqual(fallbacks, []);
      bad.reconnect(a.access);
      await bad.whenConnected();
      assert.equal(bad.user, a.user);

      let asked = 0;
      const good = open('not-a-token', {
        refreshToken: async () => {
          asked++;
          return a.access;
        },
      });
      const errors: string[] = [];
      good.on('error', (e) => errors.push((e as ParleyError).code));
      await good.whenConnected();
      assert.equal(asked, 1);
      assert.deepEqual(errors, ['UNAUTHORIZED']);
      assert.equal(good.transport, transport);
      assert.equal(good.user, a.user);
    });
  });
}
