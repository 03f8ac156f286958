/** SSE specifics: head and auth, ids and Last-Event-ID, keep-alive, resume across a restart, disconnect. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventFrame, PresenceFrame, ReconnectFrame, Results, ServerFrame, Tokens, WelcomeFrame } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { openSse, postCommand, type SseEvent, type SseStream } from '../helpers/sse-link.ts';
import { connectWs } from '../helpers/ws-link.ts';

interface Opened {
  stream: SseStream;
  events: SseEvent[];
  frames: ServerFrame[];
}

async function sse(url: string, opts: Parameters<typeof openSse>[1]): Promise<Opened> {
  const events: SseEvent[] = [];
  const frames: ServerFrame[] = [];
  const stream = await openSse(url, opts, (e) => {
    events.push(e);
    if (e.event === 'message') frames.push(JSON.parse(e.data) as ServerFrame);
  });
  return { stream, events, frames };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const welcomeOf = (o: Opened) => o.frames.find((f): f is WelcomeFrame => f.t === 'welcome');
const messagesOf = (o: Opened, conv: string) =>
  o.frames.filter((f): f is EventFrame => f.t === 'ev' && f.e.k === 'message' && f.e.msg.conv === conv).map((f) => (f.e.k === 'message' ? f.e.msg.seq : 0));

async function directConv(url: string, a: Tokens, b: Tokens): Promise<string> {
  const [res] = await postCommand(url, a.access, { t: 'conv.direct', id: 1, user: b.handle });
  assert.equal(res?.t, 'res');
  return ((res as { data: Results['conv.direct'] }).data.conversation.id);
}

/**
 * Retries a network failure, as a client does: right after a restart a pooled keep-alive socket of
 * the old process may still be picked. A send is idempotent on its cmid, so a retry is safe.
 */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function send(url: string, a: Tokens, conv: string, cmid: string): Promise<void> {
  const [res] = await retrying(() => postCommand(url, a.access, { t: 'send', id: cmid, conv, cmid, body: cmid }));
  assert.equal(res?.t, 'res', JSON.stringify(res));
}

describe('sse transport', () => {
  let server: TestServer;
  const open: Opened[] = [];
  before(async () => {
    // heartbeatMs also sets the SSE keep-alive interval (at most 15 s).
    server = await startServer({ limits: { heartbeatMs: 100 } });
  });
  after(async () => {
    for (const o of open) o.stream.abort();
    await server.stop();
  });

  async function connect(opts: Parameters<typeof openSse>[1]): Promise<Opened> {
    const o = await sse(server.url, opts);
    open.push(o);
    return o;
  }

  it('answers an event stream with the documented head; Bearer works as well as ?token', async () => {
    const a = await register(server.url);
    for (const o of [await connect({ token: a.access }), await connect({ bearer: a.access })]) {
      assert.equal(o.stream.status, 200);
      assert.match(o.stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(o.stream.headers.get('cache-control'), 'no-cache');
      assert.equal(o.stream.headers.get('x-accel-buffering'), 'no');
      await until(() => welcomeOf(o) !== undefined, 'welcome');
      assert.equal(welcomeOf(o)?.user, a.user);
      assert.equal(typeof o.stream.parser.retry, 'number', 'a retry: field comes first');
    }
  });

  it('a bad or missing token is a 401 with an error body, and no stream', async () => {
    for (const opts of [{ token: 'nope' }, {}] as Record<string, string>[]) {
      const res = await fetch(`${server.url}/v1/sse?${new URLSearchParams(opts)}`);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as { t: string; code: string };
      assert.equal(body.t, 'err');
      assert.equal(body.code, 'UNAUTHORIZED');
    }
    const bad = await fetch(`${server.url}/v1/sse?cursor=abc`, { headers: { authorization: 'Bearer x' } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'INVALID');
  });

  it('sends keep-alive comment lines on an idle stream', async () => {
    const a = await register(server.url);
    const o = await connect({ token: a.access });
    await until(() => o.stream.parser.comments >= 3, 'three keep-alive comments', 2000);
  });

  it('ev frames carry id = cursor; Last-Event-ID wins over ?cursor', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    const conv = await directConv(server.url, a, b);
    for (let i = 0; i < 3; i++) await send(server.url, a, conv, `m${i}`);
    const first = await connect({ token: b.access, cursor: 0 });
    await until(() => messagesOf(first, conv).length === 3, 'three messages');
    for (const e of first.events.filter((x) => x.event === 'message')) {
      const f = JSON.parse(e.data) as ServerFrame;
      if (f.t === 'ev') assert.equal(e.id, String(f.c));
    }
    const second = await connect({ token: b.access, cursor: 0, lastEventId: '2' });
    await until(() => welcomeOf(second) !== undefined, 'welcome');
    assert.equal(welcomeOf(second)?.from, 2);
    await until(() => messagesOf(second, conv).length === 2, 'the two after cursor 2');
    assert.deepEqual(messagesOf(second, conv), [2, 3]);
  });

  it('a client that goes away ends its session: presence goes offline', async () => {
    const [a, b] = [await register(server.url), await register(server.url)];
    await directConv(server.url, a, b);
    const watcher = new TestClient(await connectWs(server.url, a.access));
    await watcher.welcome();
    await watcher.request({ t: 'presence.sub', users: [b.user] });
    const o = await connect({ token: b.access });
    await watcher.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && f.online);
    o.stream.abort();
    await watcher.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && !f.online, 3000, 'offline');
    watcher.close();
  });
});

describe('sse across a server restart', () => {
  it('resumes with Last-Event-ID: every message once, in order', async () => {
    const server = await startServer();
    try {
      const [a, b] = [await register(server.url), await register(server.url)];
      const conv = await directConv(server.url, a, b);
      const first = await sse(server.url, { token: b.access });
      for (let i = 0; i < 20; i++) await send(server.url, a, conv, `before${i}`);
      await until(() => messagesOf(first, conv).length === 20, '20 messages before the restart');
      const restarting = server.restart();
      // The drain: a reconnect frame (with a retry: for EventSource), the reason, the end.
      await first.stream.done;
      const reconnect = first.frames.find((f): f is ReconnectFrame => f.t === 'reconnect');
      assert.ok(reconnect, 'reconnect frame');
      assert.equal(first.stream.parser.retry, reconnect.retryMs);
      const closing = first.events.find((e) => e.event === 'close');
      assert.equal((JSON.parse(closing?.data ?? '{}') as { code: number }).code, 1012);
      await restarting;
      for (let i = 0; i < 20; i++) await send(server.url, a, conv, `after${i}`);
      const lastId = first.stream.parser.lastEventId ?? undefined;
      assert.ok(lastId, 'the stream had ids');
      // As EventSource does: the original URL (cursor 0 here), plus Last-Event-ID.
      const second = await retrying(() => sse(server.url, { token: b.access, cursor: 0, lastEventId: lastId }));
      await until(() => messagesOf(second, conv).length === 20, '20 messages after the restart');
      await new Promise((r) => setTimeout(r, 100));
      second.stream.abort();
      assert.deepEqual([...messagesOf(first, conv), ...messagesOf(second, conv)], Array.from({ length: 40 }, (_, i) => i + 1));
    } finally {
      await server.stop();
    }
  });
});
