/**
 * The bare `ws` peer for the density and storm benches: `?user=ID` names a connection, nothing else
 * happens on it but heartbeats (a ping every 25 s, Parley's default; a peer that missed the previous
 * one is terminated), from one shared sweep. Spread over `workers` processes with node:cluster like
 * `parley start --workers N`. argv: port workers.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { listening, servesHere } from './cluster-peer.ts';

const port = Number(process.argv[2] ?? 18500);
const workers = Number(process.argv[3] ?? 1);
const HEARTBEAT_MS = 25_000;

if (servesHere(workers)) {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (ws) => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('error', () => ws.terminate());
  });
  setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, HEARTBEAT_MS).unref();
  http.listen(port, '127.0.0.1', listening);
}
