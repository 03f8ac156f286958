/**
 * WebSocket heartbeat under a stalled event loop: a peer whose pong arrived while the server was
 * busy (so the pong sits unread when the next sweep is due) is not cut for it. The server and the
 * client share this process, so blocking the loop right after the client has answered a ping (the
 * `ws` client writes its pong before emitting 'ping') leaves exactly that situation.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { register, startServer } from '../helpers/server.ts';
import { rawWs } from '../helpers/ws-link.ts';

function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // the loop is saturated, as by a connect storm
  }
}

it('a peer whose pong waits behind our own busy loop is not cut', async () => {
  const heartbeatMs = 200;
  const server = await startServer({ limits: { heartbeatMs } });
  try {
    const a = await register(server.url);
    const ws = await rawWs(server.url, a.access);
    let closed: number | null = null;
    ws.on('close', (code) => (closed = code));
    let pings = 0;
    ws.on('ping', () => {
      pings += 1;
      // Stall three intervals just after answering, a few times over.
      if (pings % 3 === 1 && pings < 10) busyWait(heartbeatMs * 3);
    });
    await new Promise((r) => setTimeout(r, heartbeatMs * 12));
    assert.ok(pings >= 4, `the heartbeat went on (${pings} pings)`);
    assert.equal(closed, null, 'still connected');
    assert.equal(ws.readyState, ws.OPEN);
    ws.close();
  } finally {
    await server.stop();
  }
});
