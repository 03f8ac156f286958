/**
 * The bare `ws` relay with groups: the ceiling for a Node group fan-out. `?user=ID&room=R` names the
 * connection and puts it in room R; a frame {id, to, body} goes to every socket of room `to` (the
 * sender's included, as Socket.IO's `io.to(room)` does) as {from, body} — one serialisation, then a
 * send loop — and is acknowledged to the sender as {ack: id}. In memory, no persistence, no auth.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.argv[2] ?? 18410);
const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const user = q.get('user') ?? '';
  const room = q.get('room') ?? `user:${user}`;
  let set = rooms.get(room);
  if (!set) rooms.set(room, (set = new Set()));
  set.add(ws);
  ws.on('close', () => set.delete(ws));
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { id: number; to: string; body: string };
    // Serialised and encoded once for the whole room, as Socket.IO's broadcast does.
    const out = Buffer.from(JSON.stringify({ from: user, body: f.body }));
    for (const peer of rooms.get(f.to) ?? []) peer.send(out, { binary: false });
    ws.send(JSON.stringify({ ack: f.id }));
  });
});
wss.on('listening', () => process.send?.('ready'));
