/** The outbox across client restarts: what one client could not send, the next one on the same storage does. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClosedError, connect, MemoryStorage, type ClientEvents } from '../src/index.ts';
import { register, startNode, until, type TestNode } from './helpers.ts';

describe('Outbox', () => {
  let server: TestNode;
  before(async () => {
    server = await startNode();
  });
  after(async () => {
    await server.stop();
  });

  it('persists unsent messages; a restarted client sends them once, in order', async () => {
    const a = await register(server.url, 'a');
    const b = await register(server.url, 'b');
    const storage = new MemoryStorage();
    const first = connect({ url: server.url, token: a.access, storage });
    await first.whenConnected();
    const conv = (await first.direct(b.user)).id;
    await first.close();

    // Offline: nothing listens on port 9 of this host.
    const offline = connect({ url: 'http://127.0.0.1:9', token: a.access, storage, backoff: { initialMs: 1000, maxMs: 1000 } });
    const p1 = offline.send(conv, 'written offline 1');
    const p2 = offline.send(conv, 'written offline 2');
    // A fresh client loads its stored outbox first; the new entries join it right after.
    await until(() => offline.pending().length === 2, 1000, 'pending entries');
    const cmids = offline.pending().map((e) => e.cmid);
    assert.equal(cmids.length, 2);
    await offline.close();
    await assert.rejects(p1, ClosedError);
    await assert.rejects(p2, ClosedError);
    assert.equal((await storage.keys('outbox:')).length, 2);

    const again = connect({ url: server.url, token: a.access, storage });
    const sent: ClientEvents['sent'][] = [];
    again.on('sent', (s) => sent.push(s));
    await again.whenConnected();
    while (sent.length < 2) await again.next('sent');
    assert.deepEqual(
      sent.map((s) => s.entry.cmid),
      cmids,
    );
    assert.equal(sent[1]!.result.seq, sent[0]!.result.seq + 1);
    const h = await again.history(conv);
    assert.deepEqual(
      h.messages.map((m) => m.body),
      ['written offline 1', 'written offline 2'],
    );
    await again.close();
    // close() waits for the storage writes: nothing is left to send.
    assert.deepEqual(await storage.keys('outbox:'), []);
  });
});
