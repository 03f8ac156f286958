/**
 * Delivery's fan-out: one broker publish per node, carrying that node's users' notices in order
 * (a lone notice goes as itself), this node's own notices handed over without the broker, and the
 * Hub unpacks a batch to each user's sessions.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { CursorEvent, DeviceId, UserId } from '@parley/protocol';
import { MemoryBroker } from '../../src/broker/MemoryBroker.ts';
import { Topics, type Notice } from '../../src/broker/Broker.ts';
import { Delivery } from '../../src/chat/Delivery.ts';
import { MemoryRouter } from '../../src/routing/MemoryRouter.ts';
import { MemoryPresence } from '../../src/presence/MemoryPresence.ts';
import { Hub, type HubSession } from '../../src/session/Hub.ts';

const u = (n: number) => `u${n}` as UserId;
const ev = (c: number): CursorEvent[] => [{ c, e: { k: 'read', conv: 'c_1' as never, seq: c } }];

describe('Delivery fan-out', () => {
  it('publishes once per node with every user of that node, and hubs hand each user its own events', async () => {
    const broker = new MemoryBroker();
    const router = new MemoryRouter();
    const seen = new Map<string, Notice[]>();
    for (const node of ['n1', 'n2']) {
      seen.set(node, []);
      await broker.subscribe(Topics.node(node), (n) => seen.get(node)!.push(n));
    }
    await router.attach(u(1), 'n1');
    await router.attach(u(2), 'n1');
    await router.attach(u(3), 'n1');
    await router.attach(u(3), 'n2');
    await router.attach(u(4), 'n2');
    const errors: unknown[] = [];
    const delivery = new Delivery(broker, router, (e) => errors.push(e));
    const appended = new Map([1, 2, 3, 4, 5].map((i) => [u(i), ev(i)]));
    await delivery.appended(appended);
    assert.deepEqual(errors, []);
    const n1 = seen.get('n1')!;
    assert.equal(n1.length, 1, 'one publish to n1');
    assert.deepEqual(n1[0], { type: 'batch', notices: [1, 2, 3].map((i) => ({ type: 'events', user: u(i), events: ev(i) })) });
    const n2 = seen.get('n2')!;
    assert.equal(n2.length, 1);
    assert.equal(n2[0]!.type, 'batch');
    // A node with one recipient gets the plain notice.
    await delivery.appended(new Map([[u(4), ev(9)]]));
    assert.deepEqual(seen.get('n2')![1], { type: 'events', user: u(4), events: ev(9) });
    assert.equal(seen.get('n1')!.length, 1, 'nothing for a node without recipients');
  });

  it("hands this node's notices to it directly and publishes only the other nodes'", async () => {
    const broker = new MemoryBroker();
    const router = new MemoryRouter();
    const published = new Map<string, Notice[]>([['n1', []], ['n2', []]]);
    for (const node of published.keys()) await broker.subscribe(Topics.node(node), (n) => published.get(node)!.push(n));
    await router.attach(u(1), 'n1');
    await router.attach(u(2), 'n1');
    await router.attach(u(2), 'n2');
    const local: Notice[] = [];
    const delivery = new Delivery(broker, router, () => {}, { id: 'n1', deliver: (n) => local.push(n) });
    await delivery.appended(new Map([[u(1), ev(1)], [u(2), ev(2)]]));
    assert.deepEqual(local, [{ type: 'batch', notices: [1, 2].map((i) => ({ type: 'events', user: u(i), events: ev(i) })) }]);
    assert.deepEqual(published.get('n1'), [], 'nothing for this node went through the broker');
    assert.deepEqual(published.get('n2'), [{ type: 'events', user: u(2), events: ev(2) }]);
  });

  it('the hub gives each session of a batch exactly its own user\'s notice', async () => {
    const broker = new MemoryBroker();
    const router = new MemoryRouter();
    const hub = new Hub('n1', broker, router, new MemoryPresence(), pino({ level: 'silent' }));
    await hub.start();
    const got = new Map<string, Notice[]>();
    const session = (id: string, user: UserId): HubSession => ({ id, user, device: `d-${id}` as DeviceId, notify: (n) => got.get(id)!.push(n), close: () => {} });
    for (const [id, user] of [['a', u(1)], ['b', u(1)], ['c', u(2)]] as const) {
      got.set(id, []);
      await hub.add(session(id, user));
    }
    await new Delivery(broker, router, () => {}).appended(new Map([[u(1), ev(1)], [u(2), ev(2)], [u(3), ev(3)]]));
    assert.deepEqual(got.get('a'), [{ type: 'events', user: u(1), events: ev(1) }]);
    assert.deepEqual(got.get('b'), [{ type: 'events', user: u(1), events: ev(1) }]);
    assert.deepEqual(got.get('c'), [{ type: 'events', user: u(2), events: ev(2) }]);
    await hub.stop();
  });
});
