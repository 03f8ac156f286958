/**
 * Acks wait `ackDelayMs` for company, and a device's acks during that wait become one request:
 * the store sees one row per device per batch, with the highest cursor; an ack after the batch
 * left queues anew. Real SqliteStore (temporary file), counting what reaches applyAcks.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyError, type ConversationId, type DeviceId, type UserId } from '@parley/protocol';
import { MemoryBroker } from '../../src/broker/MemoryBroker.ts';
import { Delivery } from '../../src/chat/Delivery.ts';
import { Messaging } from '../../src/chat/Messaging.ts';
import { MemoryRouter } from '../../src/routing/MemoryRouter.ts';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import type { AckRequest } from '../../src/store/Store.ts';

describe('ack coalescing', () => {
  let dir: string;
  let store: SqliteStore;
  const batches: AckRequest[][] = [];
  const [a, b] = ['u_a', 'u_b'] as UserId[];
  const [da, db1, db2] = ['d_a', 'd_b1', 'd_b2'] as DeviceId[];
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-acks-'));
    store = new SqliteStore({ path: join(dir, 'parley.db') });
    await store.migrate();
    for (const u of [a!, b!]) await store.createUser({ id: u, handle: u, passwordHash: 'x', createdAt: 1 });
    for (const [d, u] of [[da, a], [db1, b], [db2, b]] as const) await store.createDevice({ id: d!, user: u!, name: 'p', refreshHash: 'r', createdAt: 1 });
    await store.createConversation({ id: 'c_1' as ConversationId, kind: 'direct', name: '', createdAt: 1, by: a!, members: [{ user: a!, admin: false }, { user: b!, admin: false }] });
    const real = store.applyAcks.bind(store);
    store.applyAcks = (batch) => {
      batches.push(batch.map((r) => ({ ...r })));
      return real(batch);
    };
    batches.length = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('merges one device\'s acks within the wait into its highest cursor, one request per device', async () => {
    const messaging = new Messaging(store, new Delivery(new MemoryBroker(), new MemoryRouter(), () => {}), {
      maxBodyLength: 1000, maxBatch: 512, batchDelayMs: 0, ackDelayMs: 30, maxHistoryPage: 50, syncPageSize: 100,
    });
    for (let i = 0; i < 3; i++) await messaging.send({ user: a!, device: da! } as never, 'c_1' as ConversationId, `m${i}`, `hello ${i}`);
    const pb1 = { user: b!, device: db1! } as never;
    const pb2 = { user: b!, device: db2! } as never;
    // b's log: cursor 1 is the conversation's creation, 2-4 the messages.
    await Promise.all([messaging.ack(pb1, 2), messaging.ack(pb1, 4), messaging.ack(pb1, 3), messaging.ack(pb2, 2)]);
    assert.equal(batches.length, 1, JSON.stringify(batches));
    assert.deepEqual(
      batches[0]!.map((r) => [r.device, r.cursor]).sort(),
      [[db1, 4], [db2, 2]],
    );
    assert.equal((await store.device(db1!))?.acked, 4);
    assert.equal((await store.device(db2!))?.acked, 2);
    // After the batch left, the next ack is a request of its own.
    await messaging.ack(pb2, 4);
    assert.equal(batches.length, 2);
    assert.deepEqual(batches[1]!.map((r) => [r.device, r.cursor]), [[db2, 4]]);
    assert.equal((await store.device(db2!))?.acked, 4);
    await messaging.idle();
  });

  it('an ack rejected while queued (store down) does not swallow the device\'s later acks', async () => {
    const messaging = new Messaging(store, new Delivery(new MemoryBroker(), new MemoryRouter(), () => {}), {
      maxBodyLength: 1000, maxBatch: 512, batchDelayMs: 0, ackDelayMs: 1, maxHistoryPage: 50, syncPageSize: 100,
    });
    for (let i = 0; i < 3; i++) await messaging.send({ user: a!, device: da! } as never, 'c_1' as ConversationId, `m${i}`, `hello ${i}`);
    const real = store.applyAcks;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    store.applyAcks = async (batch) => {
      calls += 1;
      if (calls === 1) {
        await gate;
        throw new ParleyError('UNAVAILABLE', 'store down');
      }
      return real(batch);
    };
    const pb1 = { user: b!, device: db1! } as never;
    const pb2 = { user: b!, device: db2! } as never;
    const first = messaging.ack(pb1, 2).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20)); // the first batch is in the store, waiting
    const queued = messaging.ack(pb2, 2).catch((e: unknown) => e); // queued behind it
    release();
    assert.ok((await first) instanceof ParleyError);
    assert.ok((await queued) instanceof ParleyError, 'failed fast with the batch before it');
    await messaging.ack(pb2, 3);
    assert.equal((await store.device(db2!))?.acked, 3, 'the later ack was stored');
    await messaging.idle();
  });
});
