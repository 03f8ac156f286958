/**
 * A minimal Socket.IO relay, what a team would write instead of Parley: each socket joins room
 * `user:ID`; 'send' {to, body} is emitted to that room as 'msg' and acknowledged by callback; a group
 * is a room broadcast. In memory, no persistence.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 18401);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false });
io.on('connection', (socket) => {
  const user = String(socket.handshake.query['user'] ?? '');
  void socket.join(`user:${user}`);
  socket.on('join', (room: string) => void socket.join(room));
  socket.on('send', (f: { to: string; body: string }, ack: (ok: boolean) => void) => {
    io.to(f.to.startsWith('room:') ? f.to : `user:${f.to}`).emit('msg', { from: user, body: f.body });
    ack(true);
  });
});
http.listen(port, '127.0.0.1', () => process.send?.('ready'));
