/**
 * WebSocket transport (`GET /v1/ws?token=...&cursor=N`). One JSON frame per WebSocket text message.
 * The token may also come as `Authorization: Bearer`. A bad token still completes the handshake and
 * is then closed with 4001, because browsers cannot read the status of a refused upgrade and the
 * SDK must tell "unauthorized" from "upgrade blocked".
 *
 * Heartbeat: the server pings every `heartbeatMs`; a peer that has not answered the previous ping
 * is terminated, so a vanished client is detected within about two intervals.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { CloseCodes, ParleyError, type ServerFrame } from '@parley/protocol';
import type { Transport } from '../session/Transport.ts';

export const WS_PATH = '/v1/ws';

class WsTransport implements Transport {
  readonly name = 'websocket' as const;
  readonly unidirectional = false;
  private closeHandlers: (() => void)[] = [];
  private ended = false;

  constructor(private readonly ws: WebSocket) {
    ws.on('close', () => this.end());
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const h of this.closeHandlers) h();
    this.closeHandlers = [];
  }

  private corked = false;
  private backlogAtCork = 0;

  /**
   * Frames written in one turn of the event loop (a batch's fan-out, a catch-up page) leave in one
   * writev: the socket is corked on the first write and uncorked on the next tick.
   */
  write(frame: ServerFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const socket = (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (socket && !this.corked) {
      this.backlogAtCork = this.ws.bufferedAmount;
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.ws.send(JSON.stringify(frame));
  }

  /**
   * The backlog the peer has not taken yet. While corked, the frames of this tick are not backlog
   * (they leave together on uncork), so the figure from before the tick is reported.
   */
  buffered(): number {
    return this.corked ? this.backlogAtCork : this.ws.bufferedAmount;
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
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  onClose(handler: () => void): void {
    if (this.ended) handler();
    else this.closeHandlers.push(handler);
  }
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

export function attachWebSocket(server: Server, accept: WsAcceptor, opts: WsOptions): { wss: WebSocketServer; stop(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes, perMessageDeflate: false, clientTracking: true });
  const alive = new WeakMap<WebSocket, boolean>();

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
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      // Protocol errors (e.g. a frame over maxPayload) close the socket with their own code.
      ws.on('error', () => ws.terminate());
      const auth = req.headers.authorization;
      const token = url.searchParams.get('token') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : null);
      const transport = new WsTransport(ws);
      // Frames that arrive before the session is ready wait here, in order.
      const early: string[] = [];
      let handler: { receive(text: string): Promise<void> } | null = null;
      // Commands run concurrently; each reaches its queue (e.g. the send batcher) synchronously, in
      // arrival order, so one connection's sends keep their order.
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : data.toString();
        if (handler) void handler.receive(text);
        else early.push(text);
      });
      accept(transport, { token, cursor: parseCursor(url.searchParams.get('cursor')) })
        .then((h) => {
          if (!h) return;
          handler = h;
          for (const text of early.splice(0)) void h.receive(text);
        })
        .catch((err: unknown) => {
          const code = err instanceof ParleyError && (err.code === 'UNAUTHORIZED' || err.code === 'TOKEN_EXPIRED') ? CloseCodes.UNAUTHORIZED : 1011;
          const reason = err instanceof ParleyError ? err.code : 'INTERNAL';
          transport.close(code, reason);
        });
    });
  });

  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, opts.heartbeatMs);
  timer.unref();

  return {
    wss,
    stop() {
      clearInterval(timer);
    },
  };
}
