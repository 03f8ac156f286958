/**
 * A closed connection's cleanup survives a moment of failing Redis commands (seen when 100,000
 * connections closed at once: commands timed out after 2 s): the route detach and the presence
 * disconnect are retried, a user who came back meanwhile keeps its route, and an attempt whose
 * reply was lost after it removed the entry still ends with the offline announcement.
 * Memory ports wrapped to fail on demand (one piece each: the Hub, PresenceService).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { DeviceId, UserId } from '@parley/protocol';
import { MemoryBroker } from '../../src/broker/MemoryBroker.ts';
import { Topics, type Notice } from '../../src/broker/Broker.ts';
import { Delivery } from '../../src/chat/Delivery.ts';
import { PresenceService } from '../../src/chat/PresenceService.ts';
import { MemoryPresence } from '../../src/presence/MemoryPresence.ts';
import { MemoryRouter } from '../../src/routing/MemoryRouter.ts';
import { Hub, type HubSession } from '../../src/session/Hub.ts';
import { SqliteStore } from '../../src/store/SqliteStore.ts';

const user = 'u_1' as UserId;
const session = (id: string): HubSession => ({ id, user, device: `d_${id}` as DeviceId, notify: () => {}, close: () => {} });

/** A router whose next `failures` detach calls reject, as a timed-out Redis command does. */
function flakyRouter(failures: number): MemoryRouter & { detachCalls: number } {
  const r = new MemoryRouter() as MemoryRouter & { detachCalls: number };
  r.detachCalls = 0;
  const detach = r.detach.bind(r);
  r.detach = async (u, node) => {
    r.detachCalls += 1;
    if (failures-- > 0) throw new Error('Command timed out');
    return detach(u, node);
  };
  return r;
}

describe('connection cleanup retries', () => {
  it('the hub detaches the route after failed attempts', async () => {
    const router = flakyRouter(2);
    const hub = new Hub('n1', new MemoryBroker(), router, new MemoryPresence(), pino({ level: 'silent' }));
    const s = session('a');
    await hub.add(s);
    assert.deepEqual((await router.nodesOf([user])).get(user), ['n1']);
    assert.equal(await hub.remove(s), true, 'the last session of the user');
    assert.equal(router.detachCalls, 3);
    assert.equal((await router.nodesOf([user])).get(user), undefined, 'no route left behind');
  });

  it('a user who reconnected during the retries keeps its route', async () => {
    const router = flakyRouter(1);
    const hub = new Hub('n1', new MemoryBroker(), router, new MemoryPresence(), pino({ level: 'silent' }));
    const s = session('a');
    await hub.add(s);
    const removing = hub.remove(s);
    await hub.add(session('b')); // arrives while the first detach failed and its retry waits
    await removing;
    assert.equal(router.detachCalls, 1, 'the retry saw the new session and did not detach');
    assert.deepEqual((await router.nodesOf([user])).get(user), ['n1']);
  });

  it('presence: an attempt that removed the entry but lost its reply still announces offline', async () => {
    const presence = new MemoryPresence();
    const disconnect = presence.disconnect.bind(presence);
    let calls = 0;
    presence.disconnect = async (u: UserId, conn: string) => {
      calls += 1;
      const res = await disconnect(u, conn);
      if (calls === 1) throw new Error('Command timed out'); // applied, reply lost
      return res;
    };
    const broker = new MemoryBroker();
    const heard: Notice[] = [];
    await broker.subscribe(Topics.presence(user), (n) => heard.push(n));
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    await store.createUser({ id: user, handle: 'one', passwordHash: 'x', createdAt: 1 });
    const service = new PresenceService(presence, store, new Delivery(broker, new MemoryRouter(), () => {}), 'n1');
    await service.connected(user, 'c1');
    await service.disconnected(user, 'c1');
    assert.equal(calls, 2);
    assert.deepEqual(heard.map((n) => n.type === 'presence' && n.online), [true, false]);
    assert.ok((await store.usersById([user]))[0]?.lastSeen, 'last seen stored');
    await store.close();
  });
});
