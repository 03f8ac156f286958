/**
 * Id-less acks over a real WebSocket take the session's synchronous path (no answer, no promise
 * chain per frame): a burst of them becomes one store request with the highest cursor, clamped to
 * what the stream wrote; a failed request is reported once, as one `err` frame with no id, and the
 * device's next ack queues anew. Real node, real SqliteStore (temporary file) whose applyAcks is
 * observed, and made to fail once where the test says so.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParleyError, type Results } from '@parley/protocol';
import { SqliteStore } from '../../src/store/SqliteStore.ts';
import type { AckRequest } from '../../src/store/Store.ts';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('id-less acks over WebSocket', () => {
  let dir: string;
  let store: SqliteStore;
  let server: TestServer;
  const batches: AckRequest[][] = [];
  let failNext = false;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-quiet-acks-'));
    store = new SqliteStore({ path: join(dir, 'parley.db') });
    const real = store.applyAcks.bind(store);
    store.applyAcks = (batch) => {
      batches.push(batch.map((r) => ({ ...r })));
      if (failNext) {
        failNext = false;
        return Promise.reject(new ParleyError('UNAVAILABLE', 'store down for this test'));
      }
      return real(batch);
    };
    server = await startServer({}, { store });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = async (token: string, autoAck = true) => {
    const c = new TestClient(await connectWs(server.url, token), autoAck);
    await c.welcome();
    return c;
  };
  const until = async (cond: () => boolean, what: string) => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('a burst becomes one request with the highest cursor, clamped to what was sent; a failure is one err frame', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const ca = await client(a.access);
    const conv = (await ca.request<Results['conv.direct']>({ t: 'conv.direct', user: b.user })).conversation;
    const cb = await client(b.access, false);
    for (let i = 0; i < 5; i++) await ca.request({ t: 'send', conv: conv.id, cmid: `q${i}`, body: `quiet ${i}` });
    await until(() => cb.eventsOf('message').length === 5, 'five messages at b');
    const last = cb.lastCursor();
    const mine = () => batches.flat().filter((r) => r.user === b.user);

    // Out of order, repeated, and one beyond the stream: in one turn, before the ack delay ends.
    for (const c of [last - 3, last, last - 1, last + 50, last]) cb.link.send({ t: 'ack', cursor: c });
    await until(() => mine().length > 0, 'the acks to reach the store');
    await new Promise((r) => setTimeout(r, 200)); // longer than the ack delay: nothing else follows
    assert.deepEqual(mine().map((r) => r.cursor), [last], 'one request, the highest cursor, clamped to the last one written');
    assert.equal(cb.errors().length, 0, 'id-less acks get no answer');
    const stored = await store.device(mine()[0]!.device);
    assert.equal(stored?.acked, last);

    // The next request fails: the two acks that joined it make one error, and the one after queues anew.
    await ca.request({ t: 'send', conv: conv.id, cmid: 'q5', body: 'quiet 5' });
    await until(() => cb.eventsOf('message').length === 6, 'the sixth message');
    failNext = true;
    cb.link.send({ t: 'ack', cursor: cb.lastCursor() });
    cb.link.send({ t: 'ack', cursor: cb.lastCursor() });
    await until(() => cb.errors().length > 0, 'the error frame');
    await new Promise((r) => setTimeout(r, 200));
    const errs = cb.errors();
    assert.deepEqual(errs.map((e) => [e.id, e.code]), [[null, 'UNAVAILABLE']]);
    assert.equal((await store.device(stored!.id))?.acked, last, 'the failed request stored nothing');
    cb.link.send({ t: 'ack', cursor: cb.lastCursor() });
    await until(() => mine().length === 3, 'a new request after the failure');
    const deadline = Date.now() + 5000;
    while ((await store.device(stored!.id))?.acked !== cb.lastCursor()) {
      assert.ok(Date.now() < deadline, 'the later ack was stored');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
