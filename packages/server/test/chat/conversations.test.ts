import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Results, Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('conversations', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ limits: { maxGroupMembers: 4 } });
  });
  after(async () => server.stop());

  const client = async (t: Tokens) => {
    const c = new TestClient(await connectWs(server.url, t.access));
    await c.welcome();
    return c;
  };

  it('one direct conversation per pair, whoever opens it, by id or handle', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const [ca, cb] = [await client(a), await client(b)];
    const x = await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.handle });
    const y = await cb.request<Results['conv.direct']>({ t: 'conv.direct', user: a.user });
    assert.equal(x.conversation.id, y.conversation.id);
    assert.equal(x.conversation.name, b.handle);
    assert.equal(y.conversation.name, a.handle);
    await assert.rejects(ca.request({ t: 'conv.direct', user: a.user }), { code: 'INVALID' });
    await assert.rejects(ca.request({ t: 'conv.direct', user: 'no_such_handle' }), { code: 'NOT_FOUND' });
    const created = await cb.waitFor((f) => f.t === 'ev' && f.e.k === 'conv' && f.e.change === 'created');
    assert.ok(created);
  });

  it('lists conversations by activity with last message and unread count', async () => {
    const [a, b, c] = [await register(server.url), await register(server.url), await register(server.url)];
    const ca = await client(a);
    const [cb, cc] = [await client(b), await client(c)];
    const ab = (await cb.request<Results['conv.direct']>({ t: 'conv.direct', user: a.user })).conversation;
    const ac = (await cc.request<Results['conv.direct']>({ t: 'conv.direct', user: a.user })).conversation;
    await cb.request({ t: 'send', conv: ab.id, cmid: 'b1', body: 'from b' });
    await cc.request({ t: 'send', conv: ac.id, cmid: 'c1', body: 'from c 1' });
    await cc.request({ t: 'send', conv: ac.id, cmid: 'c2', body: 'from c 2' });
    let list = (await ca.request<Results['conv.list']>({ t: 'conv.list' })).conversations;
    assert.deepEqual(list.map((x) => x.id), [ac.id, ab.id]);
    assert.equal(list[0]?.unread, 2);
    assert.equal(list[0]?.lastMessage?.body, 'from c 2');
    assert.equal(list[1]?.unread, 1);
    await cb.request({ t: 'send', conv: ab.id, cmid: 'b2', body: 'newest' });
    await ca.request({ t: 'read', conv: ac.id, seq: 1 });
    list = (await ca.request<Results['conv.list']>({ t: 'conv.list' })).conversations;
    assert.deepEqual(list.map((x) => x.id), [ab.id, ac.id]);
    assert.equal(list[1]?.unread, 1);
    // A reader's own messages never count as unread.
    assert.equal((await cb.request<Results['conv.list']>({ t: 'conv.list' })).conversations[0]?.unread, 0);
  });

  it('pages history backwards and forwards by seq', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    for (let i = 1; i <= 25; i++) await ca.request({ t: 'send', conv: conv.id, cmid: `h${i}`, body: `h${i}` });
    const latest = await ca.request<Results['history']>({ t: 'history', conv: conv.id, limit: 10 });
    assert.deepEqual(latest.messages.map((m) => m.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    assert.equal(latest.more, true);
    const older = await ca.request<Results['history']>({ t: 'history', conv: conv.id, before: 16, limit: 10 });
    assert.deepEqual(older.messages.map((m) => m.seq), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const oldest = await ca.request<Results['history']>({ t: 'history', conv: conv.id, before: 6, limit: 10 });
    assert.deepEqual(oldest.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
    assert.equal(oldest.more, false);
    const fwd = await ca.request<Results['history']>({ t: 'history', conv: conv.id, after: 20, limit: 3 });
    assert.deepEqual(fwd.messages.map((m) => m.seq), [21, 22, 23]);
    assert.equal(fwd.more, true);
  });

  it('groups: admins add, remove, promote and rename; members leave; others may not; size is capped', async () => {
    const [a, b, c, d, e] = await Promise.all([1, 2, 3, 4, 5].map(() => register(server.url)));
    const ca = await client(a!);
    const cb = await client(b!);
    const g = (await ca.request<Results['conv.group']>({ t: 'conv.group', name: 'team', members: [b!.user, c!.handle] })).conversation;
    const admins = new Map<string, boolean>(g.members.map((m) => [m.user, m.admin]));
    assert.deepEqual([admins.get(a!.user), admins.get(b!.user), admins.get(c!.user), g.members.length], [true, false, false, 3]);
    await assert.rejects(cb.request({ t: 'conv.add', conv: g.id, users: [d!.user] }), { code: 'NOT_ADMIN' });
    await assert.rejects(cb.request({ t: 'conv.rename', conv: g.id, name: 'mine' }), { code: 'NOT_ADMIN' });
    const added = await ca.request<Results['conv.add']>({ t: 'conv.add', conv: g.id, users: [d!.user] });
    assert.equal(added.conversation.members.length, 4);
    await assert.rejects(ca.request({ t: 'conv.add', conv: g.id, users: [e!.user] }), { code: 'GROUP_FULL' });
    await cb.waitFor((f) => f.t === 'ev' && f.e.k === 'conv' && f.e.change === 'members' && f.e.conv === g.id);
    await ca.request({ t: 'conv.admin', conv: g.id, user: b!.user, admin: true });
    await cb.request({ t: 'conv.rename', conv: g.id, name: 'renamed' });
    assert.equal((await ca.request<Results['conv.get']>({ t: 'conv.get', conv: g.id })).conversation.name, 'renamed');
    await cb.request({ t: 'conv.remove', conv: g.id, user: c!.user });
    const cc = await client(c!);
    const removed = await cc.waitFor((f) => f.t === 'ev' && f.e.k === 'conv' && f.e.change === 'removed');
    assert.ok(removed);
    await assert.rejects(cc.request({ t: 'send', conv: g.id, cmid: 'x', body: 'still here?' }), { code: 'NOT_MEMBER' });
    await ca.request({ t: 'conv.leave', conv: g.id });
    await assert.rejects(ca.request({ t: 'history', conv: g.id }), { code: 'NOT_MEMBER' });
    const after = (await cb.request<Results['conv.get']>({ t: 'conv.get', conv: g.id })).conversation;
    assert.deepEqual(after.members.map((m) => m.user).sort(), [b!.user, d!.user].sort());
    assert.ok(after.members.some((m) => m.admin), 'a group keeps an admin');
    const direct = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b!.user })).conversation;
    await assert.rejects(ca.request({ t: 'conv.leave', conv: direct.id }), { code: 'FORBIDDEN' });
  });
});
