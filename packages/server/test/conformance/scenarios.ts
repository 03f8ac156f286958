/**
 * The delivery scenarios every transport must pass alike: the guarantees of the chat core, checked
 * end to end with real clients against a real server and a real SQLite file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Conversation, Message, PresenceFrame, Results, Tokens, TypingFrame } from '@parley/protocol';
import { TestClient, type Connector } from '../helpers/clients.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

export function deliveryScenarios(kind: string, connect: Connector): void {
  describe(`delivery over ${kind}`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    before(async () => {
      server = await startServer({ limits: { typingTtlMs: 400 } });
    });
    after(async () => {
      for (const c of clients) c.close();
      await server.stop();
    });

    async function open(t: Tokens, cursor?: number, autoAck = true): Promise<TestClient> {
      const c = new TestClient(await connect(server.url, t.access, cursor), autoAck);
      clients.push(c);
      await c.welcome();
      return c;
    }

    async function direct(c: TestClient, other: Tokens): Promise<Conversation> {
      return (await c.request<Results['conv.direct']>({ t: 'conv.direct', user: other.handle })).conversation;
    }

    function messages(c: TestClient, conv: string): Message[] {
      return c.eventsOf('message').map((f) => f.e.msg).filter((m) => m.conv === conv);
    }

    async function waitMessages(c: TestClient, conv: string, n: number, timeoutMs = 10_000): Promise<Message[]> {
      const deadline = Date.now() + timeoutMs;
      while (messages(c, conv).length < n) {
        if (Date.now() > deadline) throw new Error(`got ${messages(c, conv).length} of ${n} messages on ${kind}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return messages(c, conv);
    }

    it('1:1 round trip: sent, then delivered, then read reach the sender', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const ca = await open(a);
      const cb = await open(b);
      const conv = await direct(ca, b);
      const sent = await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'm1', body: 'hello' });
      assert.equal(sent.seq, 1);
      assert.equal(sent.duplicate, false);
      const [got] = await waitMessages(cb, conv.id, 1);
      assert.equal(got?.body, 'hello');
      assert.equal(got?.from, a.user);
      // b acked the event automatically: a hears "delivered" for seq 1, not yet read.
      const delivered = await ca.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === conv.id && f.e.delivered >= 1);
      assert.equal(delivered.t === 'ev' && delivered.e.k === 'receipt' && delivered.e.read, 0);
      await cb.request({ t: 'read', conv: conv.id, seq: 1 });
      await ca.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === conv.id && f.e.read >= 1);
    });

    it('offline recipient gets 100 messages in order, exactly once, on return', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const ca = await open(a);
      const conv = await direct(ca, b);
      await Promise.all(Array.from({ length: 100 }, (_, i) => ca.request({ t: 'send', conv: conv.id, cmid: `o${i}`, body: `m${i}` })));
      const cb = await open(b);
      const got = await waitMessages(cb, conv.id, 100);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(messages(cb, conv.id).length, 100, 'no duplicates');
      assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 100 }, (_, i) => i + 1));
      assert.deepEqual(new Set(got.map((m) => m.body)).size, 100);
      const cursors = cb.events().map((e) => e.c);
      assert.deepEqual(cursors, [...cursors].sort((x, y) => x - y), 'cursor order');
      assert.equal(new Set(cursors).size, cursors.length, 'each cursor once');
    });

    it('a connection cut mid-stream resumes from its cursor with no loss and no duplicate', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const ca = await open(a);
      const conv = await direct(ca, b);
      let cb = await open(b, undefined, false);
      const seen: Message[] = [];
      const sending = (async () => {
        for (let i = 0; i < 200; i++) await ca.request({ t: 'send', conv: conv.id, cmid: `c${i}`, body: `x${i}` });
      })();
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 30));
        // A round may end before any event arrived (likelier where events come in batches, as on
        // long polling): then the stream's own start is the cursor to resume from, not 0.
        const cursor = cb.lastCursor() || (await cb.welcome()).from;
        seen.push(...messages(cb, conv.id));
        cb.close();
        cb = await open(b, cursor, false);
      }
      await sending;
      const rest = await waitMessages(cb, conv.id, 200 - seen.length);
      const all = [...seen, ...rest];
      assert.deepEqual(all.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it('the same client message id sent three times is stored once', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const ca = await open(a);
      const conv = await direct(ca, b);
      const answers = await Promise.all([1, 2, 3].map(() => ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'same', body: 'once' })));
      assert.deepEqual(new Set(answers.map((x) => x.seq)), new Set([1]));
      assert.equal(answers.filter((x) => !x.duplicate).length, 1);
      const again = await ca.request<Results['send']>({ t: 'send', conv: conv.id, cmid: 'same', body: 'once' });
      assert.equal(again.seq, 1);
      assert.equal(again.duplicate, true);
      const hist = await ca.request<Results['history']>({ t: 'history', conv: conv.id });
      assert.equal(hist.messages.length, 1);
      const cb = await open(b);
      await waitMessages(cb, conv.id, 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(messages(cb, conv.id).length, 1);
    });

    it('a 50-member group: every member receives every message in order; the aggregate receipt follows the slowest', async () => {
      const users = await Promise.all(Array.from({ length: 50 }, () => register(server.url)));
      const [owner] = users;
      const co = await open(owner!);
      const group = (await co.request<Results['conv.group']>({ t: 'conv.group', name: 'fifty', members: users.slice(1).map((u) => u.user) })).conversation;
      assert.equal(group.members.length, 50);
      const others = await Promise.all(users.slice(1).map((u) => open(u)));
      const senders = [co, others[0]!, others[1]!];
      for (let i = 0; i < 10; i++) await senders[i % 3]!.request({ t: 'send', conv: group.id, cmid: `g${i}`, body: `g${i}` });
      for (const c of [co, ...others]) {
        const got = await waitMessages(c, group.id, 10);
        assert.deepEqual(got.map((m) => m.body), Array.from({ length: 10 }, (_, i) => `g${i}`));
      }
      // Everyone acked (auto-ack): the owner hears delivered = 10 for the group.
      await co.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === group.id && f.e.delivered === 10);
      // All but one read: the read minimum stays below 10; the last reader moves it.
      for (const c of others.slice(0, -1)) await c.request({ t: 'read', conv: group.id, seq: 10 });
      const info = await co.request<Results['msg.info']>({ t: 'msg.info', conv: group.id, seq: 10 });
      assert.equal(info.members.filter((m) => m.read).length, 49, 'owner + 48 readers');
      assert.equal(info.members.filter((m) => m.delivered).length, 50);
      const before10 = co.eventsOf('receipt').filter((f) => f.e.conv === group.id && f.e.read === 10);
      assert.equal(before10.length, 0, 'no read receipt while one member has not read');
      await others[others.length - 1]!.request({ t: 'read', conv: group.id, seq: 10 });
      await co.waitFor((f) => f.t === 'ev' && f.e.k === 'receipt' && f.e.conv === group.id && f.e.read === 10);
    });

    it('multi-device: both devices receive; a read on one reaches the other', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const b2tokens = await (await import('../helpers/server.ts')).login(server.url, b.handle);
      const ca = await open(a);
      const cb1 = await open(b);
      const cb2 = await open(b2tokens);
      const conv = await direct(ca, b);
      await ca.request({ t: 'send', conv: conv.id, cmid: 'md', body: 'to both' });
      await waitMessages(cb1, conv.id, 1);
      await waitMessages(cb2, conv.id, 1);
      await cb1.request({ t: 'read', conv: conv.id, seq: 1 });
      const readEv = await cb2.waitFor((f) => f.t === 'ev' && f.e.k === 'read' && f.e.conv === conv.id);
      assert.equal(readEv.t === 'ev' && readEv.e.k === 'read' && readEv.e.seq, 1);
      const list = await cb2.request<Results['conv.list']>({ t: 'conv.list' });
      assert.equal(list.conversations.find((c) => c.id === conv.id)?.unread, 0);
    });

    it('typing reaches the other members and expires by itself', async () => {
      const [a, b] = [await register(server.url), await register(server.url)];
      const ca = await open(a);
      const cb = await open(b);
      const conv = await direct(ca, b);
      await ca.request({ t: 'typing', conv: conv.id, on: true });
      const on = await cb.waitFor<TypingFrame>((f) => f.t === 'typing' && f.conv === conv.id && f.on);
      assert.equal(on.user, a.user);
      const off = await cb.waitFor<TypingFrame>((f) => f.t === 'typing' && f.conv === conv.id && !f.on, 3000, 'typing expiry');
      assert.equal(off.user, a.user);
      assert.ok(!ca.frames.some((f) => f.t === 'typing'), 'the typist is not told about itself');
      // Never replayed: a fresh connection of b does not see it.
      const cb2 = await open(b, 0);
      await cb2.request({ t: 'ping' });
      assert.ok(!cb2.frames.some((f) => f.t === 'typing'));
    });

    it('presence: online, then offline with last seen; refused for strangers', async () => {
      const [a, b, stranger] = [await register(server.url), await register(server.url), await register(server.url)];
      const ca = await open(a);
      await direct(ca, b);
      const first = await ca.request<Results['presence.sub']>({ t: 'presence.sub', users: [b.user] });
      assert.equal(first.states[0]?.online, false);
      const cb = await open(b);
      await ca.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && f.online);
      const t0 = Date.now();
      cb.close();
      const off = await ca.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && !f.online);
      assert.ok(off.lastSeen !== null && off.lastSeen >= t0 - 1000);
      const again = await ca.request<Results['presence.sub']>({ t: 'presence.sub', users: [b.user] });
      assert.equal(again.states[0]?.online, false);
      assert.equal(again.states[0]?.lastSeen, off.lastSeen);
      await assert.rejects(ca.request({ t: 'presence.sub', users: [stranger.user] }), { code: 'FORBIDDEN' });
    });

    it('malformed frames get error frames with stable codes and the connection survives', async () => {
      const a = await register(server.url);
      const c = await open(a);
      const cases: [string, string | number | null, string][] = [
        ['not json', null, 'BAD_FRAME'],
        ['[1,2]', null, 'BAD_FRAME'],
        ['{"id":"x1"}', 'x1', 'BAD_FRAME'],
        ['{"t":"nope","id":"x2"}', 'x2', 'UNKNOWN_TYPE'],
        ['{"t":"send","id":"x3","conv":"c"}', 'x3', 'INVALID'],
        ['{"t":"send","id":"x4","conv":"c","cmid":"m","body":5}', 'x4', 'INVALID'],
        ['{"t":"read","id":"x5","conv":"c","seq":-1}', 'x5', 'INVALID'],
        ['{"t":"ping","id":"x6","extra":true}', 'x6', 'INVALID'],
      ];
      for (const [raw, id, code] of cases) {
        const before = c.errors().length;
        c.link.send(raw);
        const err = await c.waitFor((f) => f.t === 'err' && c.errors().indexOf(f as never) >= before && f.id === id);
        assert.equal(err.t === 'err' && err.code, code, raw);
      }
      const pong = await c.request<Results['ping']>({ t: 'ping' });
      assert.ok(pong.now > 0, 'still connected');
    });

    it('authorization: a non-member cannot send, read, page, type or ask message info', async () => {
      const [a, b, outsider] = [await register(server.url), await register(server.url), await register(server.url)];
      const ca = await open(a);
      const co = await open(outsider);
      const conv = await direct(ca, b);
      await ca.request({ t: 'send', conv: conv.id, cmid: 'secret', body: 'for b only' });
      for (const cmd of [
        { t: 'send', conv: conv.id, cmid: 'x', body: 'intrude' },
        { t: 'read', conv: conv.id, seq: 1 },
        { t: 'history', conv: conv.id },
        { t: 'typing', conv: conv.id, on: true },
        { t: 'msg.info', conv: conv.id, seq: 1 },
        { t: 'conv.get', conv: conv.id },
      ] as const) {
        await assert.rejects(co.request(cmd), { code: 'NOT_MEMBER' }, cmd.t);
      }
      await assert.rejects(co.request({ t: 'send', conv: 'c_nope', cmid: 'y', body: 'x' }), { code: 'NOT_FOUND' });
      assert.equal(co.eventsOf('message').length, 0);
    });
  });
}
