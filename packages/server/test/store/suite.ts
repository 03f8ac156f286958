/**
 * The Store conformance suite: one set of tests for every Store implementation (see the contract
 * in src/store/Store.ts). Each test gets a fresh, migrated store from `open()`; after it the store
 * is closed and `teardown` (if given) disposes of its data.
 *
 * Interpretations the suite pins down where the contract leaves room (both stores agree):
 * - sending counts as having read: the sender's own watermarks move to the new seq, so a sender
 *   never holds back the all-members minimum and own messages are never unread;
 * - the sender's own log gets the message event too (for its other devices);
 * - members added later start at the current lastSeq, so the minimum never moves backwards.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ConversationId, CursorEvent, DeviceId, LogEvent, UserId } from '@parley/protocol';
import type { Appended, NewMessage, Store } from '../../src/store/Store.ts';

export function storeSuite(name: string, open: () => Promise<Store>, teardown?: (store: Store) => Promise<void>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    const id = (prefix: string) => `${prefix}${++counter}-${run}`;

    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      await teardown?.(store);
    });

    async function user(handle?: string): Promise<UserId> {
      const uid = id('u') as UserId;
      await store.createUser({ id: uid, handle: handle ?? `h-${uid}`, passwordHash: `pw-${uid}`, createdAt: 1000 });
      return uid;
    }

    async function group(members: UserId[], createdAt = 1000, name = 'team'): Promise<ConversationId> {
      const conv = id('g') as ConversationId;
      const by = members[0] as UserId;
      const res = await store.createConversation({
        id: conv, kind: 'group', name, createdAt, by, members: members.map((u, i) => ({ user: u, admin: i === 0 })),
      });
      assert.equal(res.created, true);
      return conv;
    }

    async function direct(a: UserId, b: UserId, createdAt = 1000): Promise<ConversationId> {
      const conv = id('d') as ConversationId;
      const res = await store.createConversation({
        id: conv, kind: 'direct', name: '', createdAt, by: a, members: [{ user: a, admin: false }, { user: b, admin: false }],
      });
      return res.id;
    }

    const msg = (conv: ConversationId, from: UserId, cmid: string, ts = 2000, body = `body ${cmid}`): NewMessage => ({ conv, from, cmid, kind: 'text', body, ts });

    async function send(conv: ConversationId, from: UserId, ts = 2000): Promise<number> {
      const { outcomes } = await store.appendMessages([msg(conv, from, id('c'), ts)]);
      const o = outcomes[0];
      assert.ok(o?.ok, 'send should succeed');
      return o.seq;
    }

    async function device(u: UserId): Promise<DeviceId> {
      const d = id('dev') as DeviceId;
      await store.createDevice({ id: d, user: u, name: 'phone', refreshHash: 'r0', createdAt: 1000 });
      return d;
    }

    const of = (appended: Appended, u: UserId): CursorEvent[] => appended.get(u) ?? [];
    const events = (appended: Appended, u: UserId): LogEvent[] => of(appended, u).map((c) => c.e);
    const receiptsIn = (appended: Appended, u: UserId) => events(appended, u).filter((e) => e.k === 'receipt');
    const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (err: unknown) => (err as { code?: string }).code === code);

    describe('schema and lifecycle', () => {
      it('migrate is idempotent and a fresh store is empty', async () => {
        await store.migrate();
        const ghost = 'nobody' as UserId;
        assert.equal(await store.head(ghost), 0);
        assert.equal(await store.userByHandle('nobody'), null);
        assert.deepEqual(await store.conversationsOf(ghost), []);
        assert.equal(await store.conversation('none' as ConversationId), null);
        assert.deepEqual(await store.readLog(ghost, 0, 10), []);
      });
    });

    describe('accounts', () => {
      it('creates users and finds them by handle (case-insensitive) and by id', async () => {
        const a = await user('Alice');
        const b = await user('Bob');
        const expected = { id: a, handle: 'Alice', passwordHash: `pw-${a}`, createdAt: 1000, lastSeen: null };
        assert.deepEqual(await store.userByHandle('alice'), expected);
        assert.deepEqual(await store.userByHandle('ALICE'), expected);
        assert.equal(await store.userByHandle('carol'), null);
        const found = await store.usersById([b, 'missing' as UserId, a]);
        assert.deepEqual(found.map((u) => u.id).sort(), [a, b].sort());
        assert.deepEqual(await store.usersById([]), []);
      });

      it('rejects a taken handle with HANDLE_TAKEN, case-insensitively, and stores nothing', async () => {
        const first = await user('Dora');
        const second = id('u') as UserId;
        await rejectsWith(store.createUser({ id: second, handle: 'dORA', passwordHash: 'x', createdAt: 1 }), 'HANDLE_TAKEN');
        assert.equal((await store.userByHandle('dora'))?.id, first);
        assert.deepEqual(await store.usersById([second]), []);
      });

      it('records last seen', async () => {
        const a = await user();
        await store.setLastSeen(a, 5000);
        assert.equal((await store.usersById([a]))[0]?.lastSeen, 5000);
      });

      it('creates, reads and revokes devices', async () => {
        const a = await user();
        const d = await device(a);
        assert.deepEqual(await store.device(d), { id: d, user: a, name: 'phone', refreshHash: 'r0', createdAt: 1000, revoked: false, acked: 0 });
        assert.equal(await store.device('nope' as DeviceId), null);
        await store.revokeDevice(d);
        assert.equal((await store.device(d))?.revoked, true);
        assert.equal(await store.rotateRefresh(d, 'r0', 'r1'), false, 'a revoked device cannot refresh');
      });

      it('rotates the refresh hash by compare-and-set', async () => {
        const a = await user();
        const d = await device(a);
        assert.equal(await store.rotateRefresh(d, 'wrong', 'r1'), false);
        assert.equal((await store.device(d))?.refreshHash, 'r0');
        assert.equal(await store.rotateRefresh(d, 'r0', 'r1'), true);
        assert.equal((await store.device(d))?.refreshHash, 'r1');
        assert.equal(await store.rotateRefresh(d, 'r0', 'r2'), false, 'the old hash was spent');
        const race = await Promise.all([store.rotateRefresh(d, 'r1', 'x'), store.rotateRefresh(d, 'r1', 'y')]);
        assert.deepEqual(race.filter(Boolean).length, 1, 'exactly one racer wins');
        assert.ok(['x', 'y'].includes((await store.device(d))?.refreshHash ?? ''));
      });
    });

    describe('conversations', () => {
      it('creates a group, appends `created` to every member and stores the record', async () => {
        const [a, b, c] = [await user('ann'), await user('ben'), await user('cid')];
        const conv = id('g') as ConversationId;
        const res = await store.createConversation({
          id: conv, kind: 'group', name: 'Trip', createdAt: 1234, by: a,
          members: [{ user: a, admin: true }, { user: b, admin: false }, { user: c, admin: false }],
        });
        assert.equal(res.id, conv);
        assert.equal(res.created, true);
        for (const u of [a, b, c]) {
          assert.deepEqual(of(res.appended, u), [{ c: 1, e: { k: 'conv', change: 'created', conv, by: a } }]);
          assert.equal(await store.head(u), 1);
        }
        const rec = await store.conversation(conv);
        assert.ok(rec);
        assert.deepEqual(
          { ...rec, members: [] },
          { id: conv, kind: 'group', name: 'Trip', createdAt: 1234, lastSeq: 0, activeAt: 1234, delivered: 0, read: 0, members: [] },
        );
        const members = [...rec.members].sort((x, y) => x.handle.localeCompare(y.handle));
        assert.deepEqual(members, [
          { user: a, handle: 'ann', admin: true, delivered: 0, read: 0, joinedAt: 1234 },
          { user: b, handle: 'ben', admin: false, delivered: 0, read: 0, joinedAt: 1234 },
          { user: c, handle: 'cid', admin: false, delivered: 0, read: 0, joinedAt: 1234 },
        ]);
        assert.equal(await store.isMember(conv, b), true);
        assert.deepEqual((await store.memberIds(conv)).sort(), [a, b, c].sort());
        assert.deepEqual(await store.memberIds('none' as ConversationId), []);
      });

      it('resolves a second direct conversation of the same pair to the first', async () => {
        const [a, b] = [await user(), await user()];
        const first = await direct(a, b);
        assert.equal((await store.conversation(first))?.name, '');
        assert.equal(await store.directBetween(a, b), first);
        assert.equal(await store.directBetween(b, a), first);
        const again = await store.createConversation({
          id: id('d') as ConversationId, kind: 'direct', name: '', createdAt: 9, by: b,
          members: [{ user: b, admin: false }, { user: a, admin: false }],
        });
        assert.deepEqual({ id: again.id, created: again.created, appended: again.appended.size }, { id: first, created: false, appended: 0 });
        assert.equal(await store.head(a), 1, 'nothing appended for the duplicate');
        assert.equal(await store.directBetween(a, await user()), null);
      });

      it('racing creators of one direct pair converge on one conversation', async () => {
        const [a, b] = [await user(), await user()];
        const make = (x: UserId, y: UserId) =>
          store.createConversation({ id: id('d') as ConversationId, kind: 'direct', name: '', createdAt: 5, by: x, members: [{ user: x, admin: false }, { user: y, admin: false }] });
        const results = await Promise.all([make(a, b), make(b, a), make(a, b)]);
        assert.equal(new Set(results.map((r) => r.id)).size, 1);
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(await store.directBetween(a, b), results[0]?.id);
        assert.equal(await store.head(a), 1);
        assert.equal(await store.head(b), 1);
      });

      it('adds members: `joined` to new ones, `members` to the others, active ones skipped', async () => {
        const [a, b, c, d] = [await user(), await user(), await user(), await user()];
        const conv = await group([a, b]);
        const appended = await store.addMembers(conv, [b, c, d, c], a, 10);
        assert.deepEqual(events(appended, c), [{ k: 'conv', change: 'joined', conv, by: a }]);
        assert.deepEqual(events(appended, d), [{ k: 'conv', change: 'joined', conv, by: a }]);
        assert.deepEqual(events(appended, a), [{ k: 'conv', change: 'members', conv, by: a }]);
        assert.deepEqual(events(appended, b), [{ k: 'conv', change: 'members', conv, by: a }]);
        assert.equal(of(appended, c)[0]?.c, 1);
        assert.equal(of(appended, a)[0]?.c, 2);
        assert.deepEqual((await store.memberIds(conv)).sort(), [a, b, c, d].sort());
        assert.equal((await store.addMembers(conv, [a, b], a, 10)).size, 0, 'all already active');
      });

      it('rejects GROUP_FULL past maxMembers and changes nothing', async () => {
        const [a, b, c, d] = [await user(), await user(), await user(), await user()];
        const conv = await group([a, b]);
        await rejectsWith(store.addMembers(conv, [c, d], a, 3), 'GROUP_FULL');
        assert.deepEqual((await store.memberIds(conv)).sort(), [a, b].sort());
        assert.equal(await store.head(c), 0);
        assert.equal(await store.head(a), 1);
        const ok = await store.addMembers(conv, [c], a, 3);
        assert.equal(events(ok, c).length, 1);
        await rejectsWith(store.addMembers('none' as ConversationId, [d], a, 10), 'NOT_FOUND');
      });

      it('a member added later does not pull the all-members watermarks back', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b]);
        await send(conv, a);
        await send(conv, a);
        await store.applyReads([{ user: b, conv, seq: 2 }]);
        const before = await store.conversation(conv);
        assert.deepEqual([before?.delivered, before?.read], [2, 2]);
        await store.addMembers(conv, [c], a, 10);
        const after = await store.conversation(conv);
        assert.deepEqual([after?.delivered, after?.read], [2, 2]);
        assert.equal((await store.conversationFor(c, conv))?.unread, 0, 'history before joining is not unread');
      });

      it('removes members: `left`/`removed` to them, `members` to the rest', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        const left = await store.removeMember(conv, b, b, 'left');
        assert.deepEqual(events(left, b), [{ k: 'conv', change: 'left', conv, by: b }]);
        assert.deepEqual(events(left, a), [{ k: 'conv', change: 'members', conv, by: b }]);
        assert.deepEqual(events(left, c), [{ k: 'conv', change: 'members', conv, by: b }]);
        const removed = await store.removeMember(conv, c, a, 'removed');
        assert.deepEqual(events(removed, c), [{ k: 'conv', change: 'removed', conv, by: a }]);
        assert.deepEqual(events(removed, a), [{ k: 'conv', change: 'members', conv, by: a }]);
        assert.equal(removed.has(b), false, 'a former member hears nothing');
        assert.deepEqual(await store.memberIds(conv), [a]);
        assert.equal(await store.isMember(conv, b), false);
        assert.equal(await store.conversationFor(b, conv), null);
        assert.deepEqual(await store.conversationsOf(b), []);
        assert.equal(await store.shareConversation(a, b), false);
        const res = await store.appendMessages([msg(conv, b, 'after-leaving')]);
        assert.deepEqual(res.outcomes, [{ ok: false, code: 'NOT_MEMBER' }]);
        await rejectsWith(store.removeMember(conv, b, a, 'removed'), 'NOT_MEMBER');
      });

      it('a member who left can be added again', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        await store.removeMember(conv, b, b, 'left');
        const back = await store.addMembers(conv, [b], a, 10);
        assert.deepEqual(events(back, b), [{ k: 'conv', change: 'joined', conv, by: a }]);
        assert.equal(await store.isMember(conv, b), true);
        assert.equal((await store.conversation(conv))?.members.find((m) => m.user === b)?.admin, false);
      });

      it('setAdmin and rename change the record and tell every active member', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        await store.removeMember(conv, c, a, 'removed');
        const promoted = await store.setAdmin(conv, b, true, a);
        for (const u of [a, b]) assert.deepEqual(events(promoted, u), [{ k: 'conv', change: 'members', conv, by: a }]);
        assert.equal(promoted.has(c), false);
        assert.equal((await store.conversation(conv))?.members.find((m) => m.user === b)?.admin, true);
        await rejectsWith(store.setAdmin(conv, c, true, a), 'NOT_MEMBER');
        const renamed = await store.rename(conv, 'New name', b);
        for (const u of [a, b]) assert.deepEqual(events(renamed, u), [{ k: 'conv', change: 'renamed', conv, by: b }]);
        assert.equal((await store.conversation(conv))?.name, 'New name');
        assert.equal(await store.head(a), 1 + 1 + 1 + 1, 'created, members (c removed), members (b promoted), renamed');
      });

      it('shareConversation is true only for two active members of a common conversation', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        await group([a, b]);
        assert.equal(await store.shareConversation(a, b), true);
        assert.equal(await store.shareConversation(b, a), true);
        assert.equal(await store.shareConversation(a, c), false);
      });

      it('lists a user\'s conversations by activity, with last message and unread count', async () => {
        const [a, b, d] = [await user(), await user(), await user()];
        const g1 = await group([a, b], 1000);
        const g2 = await group([a, b], 2000);
        const d3 = await direct(a, d, 3000);
        assert.deepEqual((await store.conversationsOf(a)).map((c) => c.id), [d3, g2, g1]);
        await store.appendMessages([msg(g1, b, 'm1', 5000), msg(g1, b, 'm2', 5001)]);
        const list = await store.conversationsOf(a);
        assert.deepEqual(list.map((c) => c.id), [g1, d3, g2]);
        const top = list[0];
        assert.ok(top);
        assert.equal(top.activeAt, 5001);
        assert.equal(top.lastSeq, 2);
        assert.deepEqual(top.lastMessage, { conv: g1, seq: 2, from: b, cmid: 'm2', kind: 'text', body: 'body m2', ts: 5001 });
        assert.equal(top.unread, 2);
        assert.equal(list[2]?.lastMessage, null);
        assert.equal(list[2]?.unread, 0);
        assert.equal((await store.conversationFor(b, g1))?.unread, 0, 'own messages are not unread');
        await store.applyReads([{ user: a, conv: g1, seq: 1 }]);
        assert.equal((await store.conversationFor(a, g1))?.unread, 1);
        const one = await store.conversationFor(a, g1);
        assert.deepEqual(one, (await store.conversationsOf(a))[0]);
        assert.equal(await store.conversationFor(d, g1), null);
      });
    });

    describe('messages', () => {
      it('numbers messages densely within and across batches and logs them for every member', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        const first = await store.appendMessages([msg(conv, a, 'x1', 2000), msg(conv, b, 'x2', 2001), msg(conv, a, 'x3', 2002)]);
        assert.deepEqual(first.outcomes, [
          { ok: true, seq: 1, ts: 2000, duplicate: false },
          { ok: true, seq: 2, ts: 2001, duplicate: false },
          { ok: true, seq: 3, ts: 2002, duplicate: false },
        ]);
        const second = await store.appendMessages([msg(conv, b, 'x4', 2003)]);
        assert.deepEqual(second.outcomes, [{ ok: true, seq: 4, ts: 2003, duplicate: false }]);
        for (const u of [a, b]) {
          const list = of(first.appended, u).filter((c) => c.e.k === 'message');
          assert.deepEqual(list.map((c) => c.c), [2, 3, 4], 'cursors after the created event');
          assert.deepEqual(list.map((c) => (c.e.k === 'message' ? c.e.msg.seq : 0)), [1, 2, 3]);
        }
        const forA = events(second.appended, a).filter((e) => e.k === 'message');
        assert.deepEqual(forA, [{ k: 'message', msg: { conv, seq: 4, from: b, cmid: 'x4', kind: 'text', body: 'body x4', ts: 2003 } }]);
        assert.equal((await store.conversation(conv))?.lastSeq, 4);
      });

      it('is idempotent on (sender, cmid) across batches: the retry returns the original', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        await store.appendMessages([msg(conv, a, 'same', 2000, 'original')]);
        const headB = await store.head(b);
        const retry = await store.appendMessages([msg(conv, a, 'same', 9999, 'changed')]);
        assert.deepEqual(retry.outcomes, [{ ok: true, seq: 1, ts: 2000, duplicate: true }]);
        assert.equal(retry.appended.size, 0);
        assert.equal(await store.head(b), headB);
        const h = await store.history(conv, { limit: 10 });
        assert.deepEqual(h.messages.map((m) => [m.seq, m.body]), [[1, 'original']]);
      });

      it('a copy among new messages of two conversations costs no seq and no log event', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const [g1, g2] = [await group([a, b]), await group([a, c])];
        await store.appendMessages([msg(g1, a, 'old', 2000, 'first')]);
        const res = await store.appendMessages([
          msg(g2, a, 'n1', 3000), msg(g1, a, 'n2', 3001), msg(g1, a, 'old', 3002, 'again'), msg(g1, b, 'n3', 3003), msg(g2, c, 'n4', 3004),
        ]);
        assert.deepEqual(res.outcomes.map((o) => o.ok && [o.seq, o.duplicate]), [[1, false], [2, false], [1, true], [3, false], [2, false]]);
        assert.deepEqual(events(res.appended, b).filter((e) => e.k === 'message').map((e) => e.k === 'message' && e.msg.cmid), ['n2', 'n3']);
        assert.deepEqual((await store.history(g1, { limit: 10 })).messages.map((m) => [m.seq, m.body]), [[1, 'first'], [2, 'body n2'], [3, 'body n3']]);
        assert.equal((await store.conversation(g2))?.lastSeq, 2);
      });

      it('is idempotent within one batch', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        const res = await store.appendMessages([msg(conv, a, 'k', 2000), msg(conv, a, 'k', 2001), msg(conv, a, 'other', 2002)]);
        assert.deepEqual(res.outcomes, [
          { ok: true, seq: 1, ts: 2000, duplicate: false },
          { ok: true, seq: 1, ts: 2000, duplicate: true },
          { ok: true, seq: 2, ts: 2002, duplicate: false },
        ]);
        assert.equal(events(res.appended, b).filter((e) => e.k === 'message').length, 2);
        assert.equal((await store.conversation(conv))?.lastSeq, 2);
      });

      it('scopes client message ids to their sender', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        const res = await store.appendMessages([msg(conv, a, 'shared'), msg(conv, b, 'shared')]);
        assert.deepEqual(res.outcomes.map((o) => (o.ok ? [o.seq, o.duplicate] : o.code)), [[1, false], [2, false]]);
      });

      it('stores bodies and client ids with quotes, backslashes, dollar signs and braces exactly', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        const texts = [
          "it's", 'say "hi"', 'C:\\path\\to', "'); DROP TABLE messages; --", '$1 $2::text[] $$ $fn$',
          '{"a",NULL,"b\\"c"}', 'E\'\\x41\'', 'line\nbreak\ttab', 'emoji \u{1F600} and \u00e9',
        ];
        const res = await store.appendMessages(texts.map((t, i) => msg(conv, i % 2 ? b : a, `c${i}${t}`, 3000 + i, t)));
        assert.deepEqual(res.outcomes.map((o) => o.ok && o.seq), texts.map((_, i) => i + 1));
        const page = await store.history(conv, { after: 0, limit: 20 });
        assert.deepEqual(page.messages.map((m) => [m.body, m.cmid]), texts.map((t, i) => [t, `c${i}${t}`]));
        // The same client ids again are recognised as copies, byte for byte.
        const again = await store.appendMessages(texts.map((t, i) => msg(conv, i % 2 ? b : a, `c${i}${t}`, 4000, 'other')));
        assert.deepEqual(again.outcomes.map((o) => o.ok && o.duplicate && o.seq), texts.map((_, i) => i + 1));
      });

      it('reports NOT_MEMBER and NOT_FOUND per message without using a seq', async () => {
        const [a, b, outsider] = [await user(), await user(), await user()];
        const conv = await group([a, b]);
        const res = await store.appendMessages([
          msg(conv, a, 'a1'),
          msg(conv, outsider, 'o1'),
          msg('missing' as ConversationId, a, 'a2'),
          msg(conv, b, 'b1'),
        ]);
        assert.deepEqual(res.outcomes, [
          { ok: true, seq: 1, ts: 2000, duplicate: false },
          { ok: false, code: 'NOT_MEMBER' },
          { ok: false, code: 'NOT_FOUND' },
          { ok: true, seq: 2, ts: 2000, duplicate: false },
        ]);
        assert.equal(res.appended.has(outsider), false);
        assert.equal(await store.head(outsider), 0);
        assert.deepEqual((await store.history(conv, { limit: 10 })).messages.map((m) => m.cmid), ['a1', 'b1']);
      });

      it('numbers each conversation of a mixed batch on its own', async () => {
        const [a, b] = [await user(), await user()];
        const c1 = await group([a, b]);
        const c2 = await group([a, b]);
        const res = await store.appendMessages([msg(c1, a, '1'), msg(c2, a, '2'), msg(c1, b, '3'), msg(c2, b, '4')]);
        assert.deepEqual(res.outcomes.map((o) => (o.ok ? o.seq : -1)), [1, 1, 2, 2]);
        const cursors = of(res.appended, b).map((c) => c.c);
        assert.deepEqual(cursors, [3, 4, 5, 6], 'dense, after two created events');
      });

      it('pages history backwards and forwards with `more`', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        await store.appendMessages(Array.from({ length: 7 }, (_, i) => msg(conv, i % 2 ? b : a, `p${i + 1}`, 3000 + i)));
        const seqs = (p: { messages: { seq: number }[]; more: boolean }) => [p.messages.map((m) => m.seq), p.more];
        assert.deepEqual(seqs(await store.history(conv, { limit: 3 })), [[5, 6, 7], true]);
        assert.deepEqual(seqs(await store.history(conv, { before: 5, limit: 3 })), [[2, 3, 4], true]);
        assert.deepEqual(seqs(await store.history(conv, { before: 2, limit: 3 })), [[1], false]);
        assert.deepEqual(seqs(await store.history(conv, { after: 0, limit: 3 })), [[1, 2, 3], true]);
        assert.deepEqual(seqs(await store.history(conv, { after: 4, limit: 3 })), [[5, 6, 7], false]);
        assert.deepEqual(seqs(await store.history(conv, { after: 7, limit: 3 })), [[], false]);
        assert.deepEqual(seqs(await store.history(conv, { limit: 7 })), [[1, 2, 3, 4, 5, 6, 7], false]);
        const page = await store.history(conv, { after: 1, limit: 1 });
        assert.deepEqual(page.messages, [{ conv, seq: 2, from: b, cmid: 'p2', kind: 'text', body: 'body p2', ts: 3001 }]);
        assert.deepEqual(seqs(await store.history('none' as ConversationId, { limit: 3 })), [[], false]);
      });

      it('gives dense seqs and cursors to many concurrent appends to one conversation', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        const senders = [a, b, c];
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) => store.appendMessages([msg(conv, senders[i % 3] as UserId, `c${i}`, 4000 + i)])),
        );
        const seqs = results.map((r) => (r.outcomes[0]?.ok ? r.outcomes[0].seq : -1)).sort((x, y) => x - y);
        assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => i + 1));
        const log = await store.readLog(b, 0, 100);
        assert.deepEqual(log.map((e) => e.c), Array.from({ length: log.length }, (_, i) => i + 1), 'dense cursors');
        const msgSeqs = log.flatMap((e) => (e.e.k === 'message' ? [e.e.msg.seq] : []));
        assert.deepEqual(msgSeqs, seqs, 'message events in seq order');
        assert.equal((await store.conversation(conv))?.lastSeq, 40);
      });
    });

    describe('event logs', () => {
      it('reads events after a cursor, at most `limit`, exactly as they were appended', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await group([a, b]);
        const created = (await store.readLog(b, 0, 10));
        const sent = await store.appendMessages(Array.from({ length: 5 }, (_, i) => msg(conv, a, `l${i}`, 2000 + i)));
        const all = await store.readLog(b, 0, 100);
        assert.deepEqual(all, [...created, ...of(sent.appended, b)]);
        assert.equal(all.length, 6);
        const page = await store.readLog(b, 2, 2);
        assert.deepEqual(page.map((e) => e.c), [3, 4]);
        assert.deepEqual(page[0]?.e, { k: 'message', msg: { conv, seq: 2, from: a, cmid: 'l1', kind: 'text', body: 'body l1', ts: 2001 } });
        assert.deepEqual(await store.readLog(b, 6, 10), []);
        assert.equal(await store.head(b), 6);
        assert.equal(await store.head(await user()), 0);
      });
    });

    describe('receipts', () => {
      it('acks advance delivered and tell the sender (1:1)', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const phone = await device(b);
        await store.appendMessages([msg(conv, a, 'r1'), msg(conv, a, 'r2')]);
        // b's log: 1 created, 2 message seq 1, 3 message seq 2
        const first = await store.applyAcks([{ user: b, device: phone, cursor: 2 }]);
        assert.deepEqual(of(first, a), [{ c: 4, e: { k: 'receipt', conv, delivered: 1, read: 0 } }]);
        assert.equal(first.has(b), false);
        assert.equal((await store.device(phone))?.acked, 2);
        const rec = await store.conversation(conv);
        assert.deepEqual([rec?.delivered, rec?.read], [1, 0]);
        assert.deepEqual(rec?.members.find((m) => m.user === b)?.delivered, 1);
        const second = await store.applyAcks([{ user: b, device: phone, cursor: 3 }]);
        assert.deepEqual(events(second, a), [{ k: 'receipt', conv, delivered: 2, read: 0 }]);
        assert.deepEqual(await store.readLog(a, 3, 10), [...of(first, a), ...of(second, a)]);
      });

      it('a send moves the sender\'s own watermarks, so a reply tells the earlier sender', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const first = await store.appendMessages([msg(conv, a, 'q')]);
        assert.deepEqual(receiptsIn(first.appended, a), [], 'b has not seen it');
        const reply = await store.appendMessages([msg(conv, b, 'answer')]);
        assert.deepEqual(receiptsIn(reply.appended, a), [{ k: 'receipt', conv, delivered: 1, read: 1 }]);
        assert.deepEqual(receiptsIn(reply.appended, b), [], 'a has not seen the reply');
        const rec = await store.conversation(conv);
        assert.deepEqual([rec?.delivered, rec?.read, (await store.conversationFor(b, conv))?.unread], [1, 1, 0]);
      });

      it('clamps acks to the head and never moves them backwards', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const phone = await device(b);
        await send(conv, a);
        await send(conv, a);
        const res = await store.applyAcks([{ user: b, device: phone, cursor: 999 }]);
        assert.equal((await store.device(phone))?.acked, 3);
        assert.deepEqual(receiptsIn(res, a), [{ k: 'receipt', conv, delivered: 2, read: 0 }]);
        const back = await store.applyAcks([{ user: b, device: phone, cursor: 1 }]);
        assert.equal(back.size, 0);
        assert.equal((await store.device(phone))?.acked, 3);
        assert.equal((await store.conversation(conv))?.delivered, 2);
      });

      it('acks that cover no message append nothing but record the device cursor', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const phone = await device(b);
        const res = await store.applyAcks([{ user: b, device: phone, cursor: 1 }]);
        assert.equal(res.size, 0);
        assert.equal((await store.device(phone))?.acked, 1);
        assert.equal((await store.conversation(conv))?.delivered, 0);
      });

      it('reads clamp to lastSeq, imply delivered, and log a `read` event for the reader', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        await send(conv, a);
        const res = await store.applyReads([{ user: b, conv, seq: 99 }]);
        assert.deepEqual(of(res, b), [{ c: 3, e: { k: 'read', conv, seq: 1 } }]);
        assert.deepEqual(events(res, a), [{ k: 'receipt', conv, delivered: 1, read: 1 }]);
        const me = (await store.conversation(conv))?.members.find((m) => m.user === b);
        assert.deepEqual([me?.delivered, me?.read], [1, 1]);
        assert.deepEqual(await store.readLog(b, 2, 10), of(res, b));
      });

      it('reads never move backwards and non-members are skipped silently', async () => {
        const [a, b, outsider] = [await user(), await user(), await user()];
        const conv = await direct(a, b);
        await send(conv, a);
        await send(conv, a);
        await store.applyReads([{ user: b, conv, seq: 2 }]);
        const again = await store.applyReads([{ user: b, conv, seq: 1 }, { user: b, conv, seq: 2 }]);
        assert.equal(again.size, 0);
        assert.equal((await store.conversation(conv))?.members.find((m) => m.user === b)?.read, 2);
        const stranger = await store.applyReads([{ user: outsider, conv, seq: 2 }]);
        assert.equal(stranger.size, 0);
        assert.equal(await store.head(outsider), 0);
      });

      it('in a group, the sender is told only when every member has advanced', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        const phoneB = await device(b);
        await send(conv, a);
        const acked = await store.applyAcks([{ user: b, device: phoneB, cursor: 2 }]);
        assert.equal(acked.size, 0, 'c has not received it yet');
        const readB = await store.applyReads([{ user: b, conv, seq: 1 }]);
        assert.deepEqual([...readB.keys()], [b]);
        assert.deepEqual(events(readB, b), [{ k: 'read', conv, seq: 1 }]);
        const infoBefore = await store.messageInfo(conv, 1);
        const flags = (info: typeof infoBefore) => Object.fromEntries(info.map((m) => [m.user, [m.delivered, m.read]]));
        assert.deepEqual(flags(infoBefore), { [a]: [true, true], [b]: [true, true], [c]: [false, false] });
        assert.deepEqual((await store.conversation(conv))?.read, 0);
        const readC = await store.applyReads([{ user: c, conv, seq: 1 }]);
        assert.deepEqual(events(readC, a), [{ k: 'receipt', conv, delivered: 1, read: 1 }]);
        assert.equal(readC.has(b), false);
        assert.deepEqual(flags(await store.messageInfo(conv, 1)), { [a]: [true, true], [b]: [true, true], [c]: [true, true] });
        assert.deepEqual(infoBefore.map((m) => m.handle).sort(), [`h-${a}`, `h-${b}`, `h-${c}`].sort());
      });

      it('tells each distinct sender in the advanced range once', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        await store.appendMessages([msg(conv, a, 's1'), msg(conv, a, 's2')]);
        await store.appendMessages([msg(conv, b, 's3')]);
        // watermarks now: a read 2 (own sends), b read 3, c read 0
        const byC = await store.applyReads([{ user: c, conv, seq: 3 }]);
        assert.deepEqual(receiptsIn(byC, a), [{ k: 'receipt', conv, delivered: 2, read: 2 }]);
        assert.deepEqual(receiptsIn(byC, b), [], 'seq 3 is still unread by a');
        const byA = await store.applyReads([{ user: a, conv, seq: 3 }]);
        assert.deepEqual(receiptsIn(byA, b), [{ k: 'receipt', conv, delivered: 3, read: 3 }]);
        assert.deepEqual(receiptsIn(byA, a), [], 'a has no message in (2, 3]');
        assert.deepEqual(events(byA, a), [{ k: 'read', conv, seq: 3 }]);
        const rec = await store.conversation(conv);
        assert.deepEqual([rec?.delivered, rec?.read], [3, 3]);
      });

      it('applies a batch of acks from several users in one call', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const conv = await group([a, b, c]);
        const [pb, pc] = [await device(b), await device(c)];
        await send(conv, a);
        const res = await store.applyAcks([
          { user: b, device: pb, cursor: 2 },
          { user: c, device: pc, cursor: 2 },
        ]);
        assert.deepEqual(events(res, a), [{ k: 'receipt', conv, delivered: 1, read: 0 }]);
        assert.deepEqual([(await store.device(pb))?.acked, (await store.device(pc))?.acked], [2, 2]);
      });
    });
  });
}
