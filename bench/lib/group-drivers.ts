/**
 * One group member's link for the group scenario: Parley over WebSocket / SSE / long polling (the
 * SDK-like drivers of drivers.ts and http-drivers.ts: events acked cumulatively on the SDK's schedule, bench/lib/acker.ts, or by
 * the poll cursor), or the Socket.IO and bare ws relays joined to one room.
 *
 * Contract: `send(id, body)` posts one message to the group (Parley: the conversation; relays: the
 * room); `onMessage(cb)` reports the body of every group message this member receives, its own
 * sends included where the server echoes them (the caller filters by the sender written in the body).
 */
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { bareRelayEndpoint, connect, isParleyWs, type Endpoint, type Target } from './drivers.ts';

export interface Member {
  /** Parley: an access token; relays: a user name. */
  who: string;
  /** Index of the member in the group, written into the bodies it sends. */
  index: number;
}

function socketioMember(url: string, user: string, room: string): Promise<Endpoint> {
  const socket = io(url, { transports: ['websocket'], query: { user }, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', () => {
      socket.emit('join', room);
      const acks: ((ok: boolean) => void)[] = [];
      resolve({
        send: (_id, body) => socket.emit('send', { to: room, body }, (ok: boolean) => acks.forEach((a) => a(ok))),
        onAck: (cb) => acks.push(cb),
        onMessage: (cb) => socket.on('msg', (m: { body: string }) => cb(m.body)),
        close: () => socket.close(),
      });
    });
  });
}

function wsMember(url: string, user: string, room: string): Promise<Endpoint> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/?user=${encodeURIComponent(user)}&room=${encodeURIComponent(room)}`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve(bareRelayEndpoint(ws, room)),
    );
  });
}

/**
 * Connects one member. `group` is the Parley conversation id or the relay room. A member that
 * sends over SSE / long polling gets a second, POST-only endpoint for its sends, as the SDK does.
 */
export async function joinGroup(target: Target, url: string, member: Member, group: string, sends: boolean): Promise<Endpoint> {
  if (target === 'socketio') return socketioMember(url, member.who, group);
  if (target === 'ws') return wsMember(url, member.who, group);
  const recv = await connect(target, url, member.who, group, 'receiver');
  if (!sends || isParleyWs(target)) return recv;
  const send = await connect(target, url, member.who, group, 'sender');
  return {
    send: (id, body) => send.send(id, body),
    onAck: (cb) => send.onAck(cb),
    onMessage: (cb) => recv.onMessage(cb),
    close: () => {
      send.close();
      recv.close();
    },
  };
}
