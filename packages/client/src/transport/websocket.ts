/**
 * WebSocket transport: `GET /v1/ws?token=T&cursor=N`, one JSON frame per text message, commands on
 * the same socket. The server completes the handshake even for a bad token and then closes with
 * 4001, so a failed upgrade always means "blocked on the way" (fall back), never "unauthorized".
 */
import { CloseCodes, type Command, type ServerFrame } from '@parley/protocol';
import { streamUrl, type ClientTransport, type TransportContext, type WebSocketLike } from './Transport.ts';

const OPEN = 1;

export function wsBase(httpBase: string): string {
  return httpBase.replace(/^http(s?):/i, 'ws$1:');
}

export class WebSocketTransport implements ClientTransport {
  readonly name = 'websocket' as const;
  readonly explicitAcks = true;
  readonly bidirectional = true;
  private ws: WebSocketLike | null = null;
  private ended = false;

  constructor(private readonly ctx: TransportContext) {
    const url = streamUrl(wsBase(ctx.baseUrl), '/v1/ws', ctx.token, ctx.cursor());
    ctx.platform.WebSocket().then(
      (Ctor) => {
        if (this.ended) return;
        try {
          this.attach(new Ctor(url));
        } catch (err) {
          this.end(0, `cannot open WebSocket: ${(err as Error).message}`);
        }
      },
      (err: unknown) => this.end(0, `no WebSocket implementation: ${(err as Error).message}`),
    );
  }

  private attach(ws: WebSocketLike): void {
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ended || typeof ev.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      this.ctx.sink.frame(frame);
    };
    ws.onclose = (ev) => this.end(ev.code, ev.reason);
    // An error is always followed by close; the close carries the code.
    ws.onerror = () => {};
  }

  send(cmd: Command): void {
    if (this.ended || this.ws?.readyState !== OPEN) return;
    try {
      this.ws.send(JSON.stringify(cmd));
    } catch {
      // The socket is closing; its close event ends the transport.
    }
  }

  close(): void {
    if (this.ended) return;
    try {
      this.ws?.close(1000, 'client closed');
    } catch {
      // Closing a socket that never opened may throw in some implementations.
    }
    this.end(1000, 'client closed');
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws) {
      this.ws.onmessage = null;
      this.ws.onclose = null;
    }
    const kind = code === CloseCodes.UNAUTHORIZED ? 'unauthorized' : 'closed';
    this.ctx.sink.end({ kind, code, reason });
  }
}
