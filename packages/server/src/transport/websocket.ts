/**
 * WebSocket transport (`GET /v1/ws?token=...&cursor=N`). One JSON frame per WebSocket text message.
 * The token may also come as `Authorization: Bearer`. A bad token still completes the handshake and
 * is then closed with 4001, because browsers cannot read the status of a refused upgrade and the
 * SDK must tell "unauthorized" from "upgrade blocked".
 *
 * Heartbeat: the server pings every `heartbeatMs`; a peer that has not answered the previous ping
 * is terminated, so a vanished client is detected within about two intervals. The sockets are dealt
 * into HEARTBEAT_BUCKETS buckets swept in turn (one every heartbeatMs / HEARTBEAT_BUCKETS), so a
 * node with tens of thousands of peers sends its pings, and gets the pongs back, in small spread
 * batches instead of one burst. A peer is never cut for a pong that our own busy event loop has not
 * read yet: the check runs after the loop's I/O phase (setImmediate), and a sweep that fires late by
 * more than half an interval (the loop was saturated, e.g. by a connect storm) pings without
 * cutting anyone.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { CloseCodes, ParleyError, encodeFrame, type ServerFrame } from '@parley/protocol';
import type { Transport } from '../session/Transport.ts';

export const WS_PATH = '/v1/ws';

/** Heartbeat buckets: each is swept once per interval, one every heartbeatMs / HEARTBEAT_BUCKETS. */
export const HEARTBEAT_BUCKETS = 16;

/** Per-socket state hangs off the ws object under this key, so listeners can be shared functions. */
const TRANSPORT = Symbol('parley.ws.transport');
type TaggedWs = WebSocket & { [TRANSPORT]: WsTransport };

/** What receives a session's inbound text frames once it is ready. */
interface Receiver {
  receive(text: string): Promise<void>;
}

/**
 * Per-connection memory is the product here (a node holds tens of thousands of idle sockets), so
 * the transport keeps nothing it does not need: no reference to the upgrade request, no closure per
 * listener (the ws listeners below are module-level functions that find the transport on the
 * socket), one close handler slot instead of an array, and heartbeat state as a field swept by one
 * timer for all sockets.
 */
class WsTransport implements Transport {
  readonly name = 'websocket' as const;
  readonly unidirectional = false;
  /** Answered the last heartbeat ping (or just connected). */
  alive = true;
  /** The session's receiver; until it is set, inbound frames wait in `early`, in order. */
  receiver: Receiver | null = null;
  early: string[] | null = null;
  private closeHandlers: (() => void) | (() => void)[] | null = null;
  private ended = false;
  /** The socket corked by a write of this tick, until `uncorkAll` runs. */
  private corked: { uncork(): void } | null = null;
  private backlogAtCork = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly all: Set<WsTransport>,
  ) {
    (ws as TaggedWs)[TRANSPORT] = this;
    all.add(this);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.all.delete(this);
    this.early = null;
    const h = this.closeHandlers;
    this.closeHandlers = null;
    if (typeof h === 'function') h();
    else if (h) for (const f of h) f();
  }

  /** One inbound text frame: to the session, or queued until it is ready. */
  inbound(text: string): void {
    // Commands run concurrently; each reaches its queue (e.g. the send batcher) synchronously, in
    // arrival order, so one connection's sends keep their order.
    if (this.receiver) void this.receiver.receive(text);
    else (this.early ??= []).push(text);
  }

  ready(receiver: Receiver): void {
    this.receiver = receiver;
    const early = this.early;
    this.early = null;
    if (early) for (const text of early) void receiver.receive(text);
  }

  /**
   * Frames written in one turn of the event loop (a batch's fan-out, a catch-up page) leave in one
   * writev: the socket is corked on the first write and uncorked on the next tick.
   */
  write(frame: ServerFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (socket && !this.corked) {
      this.backlogAtCork = this.ws.bufferedAmount;
      this.corked = socket;
      socket.cork();
      if (corkedNow.push(this) === 1) process.nextTick(uncorkAll);
    }
    this.ws.send(encodeFrame(frame));
  }

  /**
   * The backlog the peer has not taken yet. While corked, the frames of this tick are not backlog
   * (they leave together on uncork), so the figure from before the tick is reported.
   */
  buffered(): number {
    return this.corked ? this.backlogAtCork : this.ws.bufferedAmount;
  }

  uncork(): void {
    const socket = this.corked;
    this.corked = null;
    socket?.uncork();
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.ended || this.ws.bufferedAmount < 64 * 1024) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
    // A peer that never answers the close handshake is cut after a grace period.
    setTimeout(terminate, 2000, this.ws).unref();
  }

  onClose(handler: () => void): void {
    if (this.ended) handler();
    else if (!this.closeHandlers) this.closeHandlers = handler;
    else if (typeof this.closeHandlers === 'function') this.closeHandlers = [this.closeHandlers, handler];
    else this.closeHandlers.push(handler);
  }
}

/**
 * The transports corked in this tick: one nextTick uncorks them all (a
 * 10,000-member fan-out queues one callback, not 10,000). A socket corked while the list is being
 * uncorked (a write from another uncork's callback) joins a new list with its own tick.
 */
let corkedNow: WsTransport[] = [];

function uncorkAll(): void {
  const list = corkedNow;
  corkedNow = [];
  for (const t of list) t.uncork();
}

function terminate(ws: WebSocket): void {
  ws.terminate();
}

/**
 * One heartbeat round for a bucket: cut the peers that did not answer the previous ping (unless
 * `lenient`: our loop was stalled, so their pongs may have waited on us), ping the others.
 */
function sweep(bucket: Set<WsTransport>, lenient: boolean): void {
  for (const t of bucket) {
    if (!t.alive && !lenient) {
      t.ws.terminate();
      continue;
    }
    t.alive = false;
    t.ws.ping();
  }
}

// Shared listeners: `this` is the socket (EventEmitter calls listeners with it).
function onPong(this: WebSocket): void {
  (this as TaggedWs)[TRANSPORT].alive = true;
}
// Protocol errors (e.g. a frame over maxPayload) close the socket with their own code.
function onError(this: WebSocket): void {
  this.terminate();
}
function onClose(this: WebSocket): void {
  (this as TaggedWs)[TRANSPORT].end();
}
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as TaggedWs)[TRANSPORT].inbound(isBinary ? '' : data.toString());
}

export interface WsAcceptor {
  /** Authenticate and start a session on an open socket; reject to refuse it. */
  (transport: Transport, request: { token: string | null; cursor: number | null }): Promise<{ receive(text: string): Promise<void> } | null>;
}

export interface WsOptions {
  maxFrameBytes: number;
  heartbeatMs: number;
  /** False while draining: new upgrades are refused with 503. */
  accepting: () => boolean;
}

function parseCursor(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** The token (query `token`, else `Authorization: Bearer`) and cursor of an upgrade request. */
function credentials(req: IncomingMessage, url: URL): { token: string | null; cursor: number | null } {
  const auth = req.headers.authorization;
  const token = url.searchParams.get('token') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : null);
  return { token, cursor: parseCursor(url.searchParams.get('cursor')) };
}

export function attachWebSocket(server: Server, accept: WsAcceptor, opts: WsOptions): { wss: WebSocketServer; stop(): void } {
  // clientTracking off: ws would keep its own Set and a close closure per socket; `all` is ours.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  const buckets = Array.from({ length: HEARTBEAT_BUCKETS }, () => new Set<WsTransport>());
  let dealt = 0;

  /** A new socket: only the two small values taken from the request outlive the upgrade. */
  const serve = (ws: WebSocket, token: string | null, cursor: number | null) => {
    const transport = new WsTransport(ws, buckets[dealt++ % HEARTBEAT_BUCKETS]!);
    ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
    ws.on('message', onMessage);
    accept(transport, { token, cursor }).then(
      (receiver) => {
        if (receiver) transport.ready(receiver);
      },
      (err: unknown) => {
        const code = err instanceof ParleyError && (err.code === 'UNAUTHORIZED' || err.code === 'TOKEN_EXPIRED') ? CloseCodes.UNAUTHORIZED : 1011;
        const reason = err instanceof ParleyError ? err.code : 'INTERNAL';
        transport.close(code, reason);
      },
    );
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!opts.accepting()) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    const { token, cursor } = credentials(req, url);
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, token, cursor));
  });

  // One timer for every socket, not a timer each; each tick sweeps the next bucket.
  const tickMs = opts.heartbeatMs / HEARTBEAT_BUCKETS;
  let turn = 0;
  let lastTick = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - lastTick - tickMs;
    lastTick = now;
    const bucket = buckets[turn]!;
    turn = (turn + 1) % HEARTBEAT_BUCKETS;
    // Timers run before the loop reads its sockets: check once pongs that arrived are read.
    setImmediate(sweep, bucket, late > opts.heartbeatMs / 2);
  }, tickMs);
  timer.unref();

  return {
    wss,
    stop() {
      clearInterval(timer);
    },
  };
}
