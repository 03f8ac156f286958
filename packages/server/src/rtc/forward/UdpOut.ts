/**
 * One datagram out of a bound, unconnected `dgram.Socket`, without `Socket.send`'s per-call
 * JavaScript: its argument juggling, the `dns.lookup` of the address (a `process.nextTick` per
 * datagram even for an IP literal) and the async-id scope. Profiled in the SFU bench (1×50 at
 * 600 pps/publisher) that work was ~5 % of the server's busy time, paid once per forwarded copy.
 *
 * How: the socket's libuv handle (`UDP`, Node's internal state of the socket) is called the way
 * `dgram`'s own `doSend` calls it. A return above 0 means the kernel took the bytes before the
 * call returned (libuv's `uv_udp_try_send`), so the caller may reuse the buffer; 0 means libuv
 * queued it (the request object keeps the buffer alive until it is sent); below 0 is an error
 * (or an address that is not an IP literal), and the datagram goes through `socket.send`.
 *
 * Contract: `sendDatagram` returns true only when the kernel already holds a copy of `buf`.
 * Where Node's internals are not as expected (another Node version, a closed or connected
 * socket) it falls back to `socket.send` and returns false. test/rtc/udp-out.test.ts checks both
 * against a real socket.
 */
import type { Socket } from 'node:dgram';

interface UdpHandle {
  send(req: object, list: Buffer[], count: number, port: number, ip: string, hasCallback: boolean): number;
}
interface SocketState {
  handle: UdpHandle | null;
  bindState: number;
  connectState: number;
}
type SendWrapCtor = new () => { list?: Buffer[] };

const BIND_STATE_BOUND = 2;
const CONNECT_STATE_DISCONNECTED = 0;

let stateSymbol: symbol | null | undefined;
let SendWrap: SendWrapCtor | null | undefined;
/** A request (and its one-buffer list) that libuv let go of, for the next datagram. */
let spareReq: { list?: Buffer[] } | null = null;
/** Put in the spare list between sends, so it does not keep the last datagram alive. */
const EMPTY = Buffer.alloc(0);

function sendWrap(): SendWrapCtor | null {
  if (SendWrap === undefined) {
    try {
      const binding = (process as unknown as { binding(name: string): { SendWrap?: SendWrapCtor } }).binding('udp_wrap');
      SendWrap = typeof binding.SendWrap === 'function' ? binding.SendWrap : null;
    } catch {
      SendWrap = null;
    }
  }
  return SendWrap;
}

function stateOf(socket: Socket): SocketState | null {
  if (stateSymbol === undefined) stateSymbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol') ?? null;
  if (!stateSymbol) return null;
  const state = (socket as unknown as Record<symbol, SocketState | undefined>)[stateSymbol];
  return state && typeof state.handle?.send === 'function' ? state : null;
}

/** Whether the fast path is available in this Node (false: every datagram goes through `socket.send`). */
export function fastUdpAvailable(socket: Socket): boolean {
  return sendWrap() !== null && stateOf(socket) !== null;
}

/** Send `buf` to ip:port; true when the kernel took it synchronously (the caller may reuse `buf`). */
export function sendDatagram(socket: Socket, buf: Buffer, port: number, ip: string): boolean {
  const Wrap = sendWrap();
  const state = Wrap ? stateOf(socket) : null;
  if (!Wrap || !state || state.bindState !== BIND_STATE_BOUND || state.connectState !== CONNECT_STATE_DISCONNECTED) {
    socket.send(buf, port, ip);
    return false;
  }
  const req = spareReq ?? new Wrap();
  const list = (req.list ??= [buf]);
  list[0] = buf;
  const r = state.handle!.send(req, list, 1, port, ip, false);
  // Sent synchronously, libuv kept neither the request nor its list: both serve the next
  // datagram. Queued (0), they are libuv's until the send completes: the next one gets new ones.
  spareReq = r > 0 ? req : null;
  if (r > 0) list[0] = EMPTY;
  if (r >= 0) return r > 0;
  // An error (or an address that is not an IP literal): let dgram handle it as it would.
  socket.send(buf, port, ip);
  return false;
}
