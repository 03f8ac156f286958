/** WebSocket heartbeat: a peer that stops answering pings is cut, and its presence ends with it. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { PresenceFrame } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { register, startServer } from '../helpers/server.ts';
import { postCommand } from '../helpers/sse-link.ts';
import { connectWs, rawWs } from '../helpers/ws-link.ts';

it('a client that stops answering pings is closed and goes offline within about two intervals', async () => {
  const heartbeatMs = 200;
  const server = await startServer({ limits: { heartbeatMs } });
  try {
    const [a, b] = [await register(server.url), await register(server.url)];
    await postCommand(server.url, a.access, { t: 'conv.direct', id: 1, user: b.handle });
    const watcher = new TestClient(await connectWs(server.url, a.access));
    await watcher.welcome();
    await watcher.request({ t: 'presence.sub', users: [b.user] });
    const silent = await rawWs(server.url, b.access);
    await watcher.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && f.online);
    // Still healthy after a few intervals: it answers pings.
    await new Promise((r) => setTimeout(r, heartbeatMs * 3));
    assert.ok(!watcher.frames.some((f) => f.t === 'presence' && f.user === b.user && !f.online), 'a live peer stays online');
    // Stop reading: pings are no longer seen, so no pong goes back.
    (silent as unknown as { _socket: Socket })._socket.pause();
    const t0 = Date.now();
    await watcher.waitFor<PresenceFrame>((f) => f.t === 'presence' && f.user === b.user && !f.online, heartbeatMs * 6, 'offline');
    const took = Date.now() - t0;
    assert.ok(took <= heartbeatMs * 2 + 150, `offline after ${took} ms`);
    watcher.close();
    silent.terminate();
  } finally {
    await server.stop();
  }
});
