/**
 * The ceiling for a Node data plane: a bare `ws` relay. `?user=ID` names the connection; a frame
 * {id, to, body} is forwarded to every socket of `to` as {from, body} and acknowledged to the sender
 * as {ack: id}. In memory, no persistence, no auth, no validation.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.argv[2] ?? 18400);
const users = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
  let set = users.get(user);
  if (!set) users.set(user, (set = new Set()));
  set.add(ws);
  ws.on('close', () => set.delete(ws));
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { id: number; to: string; body: string };
    const out = JSON.stringify({ from: user, body: f.body });
    for (const peer of users.get(f.to) ?? []) peer.send(out);
    ws.send(JSON.stringify({ ack: f.id }));
  });
});
wss.on('listening', () => process.send?.('ready'));
