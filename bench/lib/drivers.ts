/**
 * Client drivers for the load generator: the same load against Parley, a Socket.IO relay and a bare
 * ws relay. Each endpoint sends bodies, reports the server's acknowledgement, and reports bodies it
 * receives.
 */
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { parleyHttp } from './http-drivers.ts';
import { acker } from './acker.ts';

/**
 * `parley-worker` / `parley-inline`: Parley with its SQLite writes in a writer thread
 * (PARLEY_STORE_WORKER=1) / on the main thread (=0, the default).
 */
export type Target = 'parley' | 'parley-worker' | 'parley-inline' | 'parley-pg' | 'parley-sse' | 'parley-longpoll' | 'socketio' | 'ws';

export interface Pair {
  /** Parley: access tokens; peers: user names. */
  sender: string;
  receiver: string;
  /** Parley: the conversation; peers: the receiver's name (or a room). */
  to: string;
  /** Where each side connects, when not the job's URL (a pair spanning two cluster nodes). */
  senderUrl?: string;
  receiverUrl?: string;
}

export interface Endpoint {
  send(id: number, body: string): void;
  onAck(cb: (ok: boolean) => void): void;
  onMessage(cb: (body: string) => void): void;
  close(): void;
}

function wsOpen(url: string, waitFirstFrame: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    if (waitFirstFrame) ws.once('message', () => resolve(ws));
    else ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function parley(url: string, token: string, to: string): Promise<Endpoint> {
  const ws = await wsOpen(`${url.replace(/^http/, 'ws')}/v1/ws?token=${token}`, true);
  const acks: ((ok: boolean) => void)[] = [];
  const msgs: ((body: string) => void)[] = [];
  let last = 0;
  // A real device acks cumulatively, not per event, on the SDK's schedule.
  const ack = acker(() => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'ack', cursor: last }));
  });
  ws.on('close', () => ack.stop());
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { t: string; c?: number; e?: { k: string; msg?: { body: string } } };
    if (f.t === 'res' || f.t === 'err') {
      for (const a of acks) a(f.t === 'res');
    } else if (f.t === 'ev' && f.c !== undefined) {
      last = f.c;
      if (f.e?.k === 'message' && f.e.msg) for (const m of msgs) m(f.e.msg.body);
      ack.event();
    }
  });
  return {
    send: (id, body) => ws.send(JSON.stringify({ t: 'send', id, conv: to, cmid: `b${process.pid}-${id}`, body })),
    onAck: (cb) => acks.push(cb),
    onMessage: (cb) => msgs.push(cb),
    close: () => ws.close(),
  };
}

async function bareWs(url: string, user: string, to: string): Promise<Endpoint> {
  return bareRelayEndpoint(await wsOpen(`${url.replace(/^http/, 'ws')}/?user=${user}`, false), to);
}

/** An open socket to the bare ws relay (bench/peers) as an Endpoint: `{id, to, body}` out, `{ack}` / `{body}` in. */
export function bareRelayEndpoint(ws: WebSocket, to: string): Endpoint {
  const acks: ((ok: boolean) => void)[] = [];
  const msgs: ((body: string) => void)[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { ack?: number; body?: string };
    if (f.ack !== undefined) for (const a of acks) a(true);
    else if (f.body !== undefined) for (const m of msgs) m(f.body);
  });
  return {
    send: (id, body) => ws.send(JSON.stringify({ id, to, body })),
    onAck: (cb) => acks.push(cb),
    onMessage: (cb) => msgs.push(cb),
    close: () => ws.close(),
  };
}

async function socketio(url: string, user: string, to: string): Promise<Endpoint> {
  const socket = io(url, { transports: ['websocket'], query: { user }, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const acks: ((ok: boolean) => void)[] = [];
  return {
    send: (_id, body) => socket.emit('send', { to, body }, (ok: boolean) => acks.forEach((a) => a(ok))),
    onAck: (cb) => acks.push(cb),
    onMessage: (cb) => socket.on('msg', (m: { body: string }) => cb(m.body)),
    close: () => socket.close(),
  };
}

/** Parley targets whose clients use one WebSocket link (the store behind them differs). */
export const isParleyWs = (t: Target): boolean => t === 'parley' || t === 'parley-worker' || t === 'parley-inline' || t === 'parley-pg';

/** `role` tells the HTTP transports which half to build; the socket ones do both on one link. */
export function connect(target: Target, url: string, who: string, to: string, role: 'sender' | 'receiver'): Promise<Endpoint> {
  if (isParleyWs(target)) return parley(url, who, to);
  if (target === 'parley-sse') return parleyHttp('sse', url, who, to, role);
  if (target === 'parley-longpoll') return parleyHttp('longpoll', url, who, to, role);
  if (target === 'ws') return bareWs(url, who, to);
  return socketio(url, who, to);
}
