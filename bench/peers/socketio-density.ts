/**
 * The Socket.IO peer for the density and storm benches: each socket joins room `user:ID` (what a
 * chat app does to address a user), WebSocket transport only, Socket.IO's own heartbeat
 * (pingInterval 25 s, as Parley's). Spread over `workers` processes with node:cluster; WebSocket-only
 * clients need no sticky sessions. argv: port workers.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listening, servesHere } from './cluster-peer.ts';

const port = Number(process.argv[2] ?? 18501);
const workers = Number(process.argv[3] ?? 1);

if (servesHere(workers)) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, pingInterval: 25_000, pingTimeout: 20_000 });
  io.on('connection', (socket) => {
    void socket.join(`user:${String(socket.handshake.query['user'] ?? '')}`);
  });
  http.listen(port, '127.0.0.1', listening);
}
