/**
 * A group message's `ev` frame is assembled from the recipient's cursor and the message encoded
 * once (encodeFrame); the bytes must stay exactly what JSON.stringify of the frame gives.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import { encodeFrame, type Message, type Results, type ServerFrame, type Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs, rawWs } from '../helpers/ws-link.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';

describe('encodeFrame', () => {
  it('gives JSON.stringify bytes for ev frames sharing one message, and for other frames', () => {
    const msg: Message = { conv: 'c_x' as Message['conv'], seq: 7, from: 'u_a' as Message['from'], cmid: 'm1', kind: 'text', body: 'he said "hi"\n\u2028é 👋 \\', ts: 1700000000000 };
    const frames: ServerFrame[] = [
      { t: 'ev', c: 1, e: { k: 'message', msg } },
      { t: 'ev', c: 42, e: { k: 'message', msg } },
      { t: 'ev', c: 3, e: { k: 'receipt', conv: msg.conv, delivered: 5, read: 4 } },
      { t: 'err', id: null, code: 'BAD_FRAME', msg: 'nope' },
      { t: 'res', id: 'r1', data: { seq: 7 } },
    ];
    // Twice: the second round reads the cached encoding of `msg`.
    for (let round = 0; round < 2; round++) for (const f of frames) assert.equal(encodeFrame(f), JSON.stringify(f));
  });
});

describe('group fan-out bytes over WebSocket', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.stop());

  it('every member receives its own cursor around the same message, byte for byte as JSON.stringify', async () => {
    const [a, b, c] = (await Promise.all([1, 2, 3].map(() => register(server.url)))) as [Tokens, Tokens, Tokens];
    const ca = new TestClient(await connectWs(server.url, a.access));
    const g = (await ca.request<Results['conv.group']>({ t: 'conv.group', name: 'bytes', members: [b.user, c.user] })).conversation;
    const sockets: WebSocket[] = await Promise.all([b, c].map((t) => rawWs(server.url, t.access)));
    const texts = sockets.map((ws) => {
      const got: string[] = [];
      ws.on('message', (data) => got.push(data.toString()));
      return got;
    });
    const body = 'quotes " backslash \\ newline \n emoji 👋 line-sep \u2028';
    const sent = await ca.request<Results['send']>({ t: 'send', conv: g.id, cmid: 'bytes-1', body });
    const deadline = Date.now() + 15_000;
    const isMsg = (s: string) => s.includes('"cmid":"bytes-1"');
    while (!texts.every((list) => list.some(isMsg))) {
      assert.ok(Date.now() < deadline, 'group message not delivered to every member');
      await new Promise((r) => setTimeout(r, 10));
    }
    const cursors: number[] = [];
    for (const list of texts) {
      const text = list.find(isMsg)!;
      const frame = JSON.parse(text) as ServerFrame;
      assert.ok(frame.t === 'ev' && frame.e.k === 'message');
      assert.equal(frame.e.msg.body, body);
      assert.equal(frame.e.msg.seq, sent.seq);
      assert.ok(text.startsWith(`{"t":"ev","c":${frame.c},"e":{"k":"message","msg":{`), text);
      assert.equal(text, JSON.stringify(frame));
      cursors.push(frame.c);
    }
    assert.equal(cursors.length, 2);
    for (const ws of sockets) ws.close();
    ca.link.close();
  });
});
