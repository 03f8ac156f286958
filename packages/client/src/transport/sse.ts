/**
 * Server-Sent Events transport: `GET /v1/sse?token=T&cursor=N`, each server frame one SSE message
 * whose `data:` is the JSON frame; commands go over `POST /v1/cmd`.
 *
 * Uses the global EventSource when there is one, else `readEventStream` (fetch). EventSource never
 * reveals the HTTP status of a failed stream, so when it fails before any frame arrived the
 * transport asks `POST /v1/cmd` (a `ping`) whether the token is still good: 401 there means
 * "unauthorized", anything else means "refused". EventSource's own reconnection is turned off by
 * closing it on the first error: the client's backoff and fallback decide what happens next.
 */
import { CloseCodes, type Command, type ServerFrame } from '@parley/protocol';
import { HttpCommands } from './http-commands.ts';
import { readEventStream } from './sse-reader.ts';
import { closeNotice, streamUrl, type ClientTransport, type EventSourceConstructor, type TransportContext } from './Transport.ts';

function errorCode(body: string): string {
  try {
    const v = JSON.parse(body) as { code?: unknown };
    return typeof v.code === 'string' ? v.code : 'UNAUTHORIZED';
  } catch {
    return 'UNAUTHORIZED';
  }
}

export class SseTransport implements ClientTransport {
  readonly name = 'sse' as const;
  readonly explicitAcks = true;
  readonly bidirectional = false;
  private readonly commands: HttpCommands;
  private readonly abort = new AbortController();
  private closeSource: (() => void) | null = null;
  private gotData = false;
  private ended = false;

  constructor(private readonly ctx: TransportContext) {
    this.commands = new HttpCommands({
      baseUrl: ctx.baseUrl,
      token: ctx.token,
      fetch: ctx.platform.fetch,
      deliver: (f) => {
        if (!this.ended) ctx.sink.frame(f);
      },
      unauthorized: (code) => this.end('unauthorized', 401, code),
      broken: (reason) => this.end('closed', 0, reason),
    });
    const url = streamUrl(ctx.baseUrl, '/v1/sse', ctx.token, ctx.cursor());
    if (ctx.platform.EventSource) this.openEventSource(ctx.platform.EventSource, url);
    else this.openFetch(url);
  }

  private onData(data: string): void {
    if (this.ended) return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    this.gotData = true;
    this.ctx.sink.frame(frame);
  }

  private onClose(data: string): void {
    const n = closeNotice(data) ?? { code: 1000, reason: 'closed by the server' };
    this.end(n.code === CloseCodes.UNAUTHORIZED ? 'unauthorized' : 'closed', n.code, n.reason);
  }

  private openFetch(url: string): void {
    void readEventStream(this.ctx.platform.fetch, url, this.abort.signal, {
      response: (status, ok, body) => {
        if (ok) return;
        if (status === 401) this.end('unauthorized', 401, errorCode(body));
        else this.end('closed', status, `event stream refused (HTTP ${status})`);
      },
      message: (m) => (m.event === 'close' ? this.onClose(m.data) : m.event === 'message' ? this.onData(m.data) : undefined),
      end: (err) => this.end('closed', 0, err ? `event stream failed: ${(err as Error).message ?? String(err)}` : 'event stream ended'),
    });
  }

  private openEventSource(ES: EventSourceConstructor, url: string): void {
    const es = new ES(url);
    this.closeSource = () => es.close();
    es.onmessage = (ev) => this.onData(ev.data);
    es.addEventListener('close', (ev) => this.onClose(ev.data));
    es.onerror = () => {
      es.close();
      if (this.gotData) this.end('closed', 0, 'event stream lost');
      else void this.probe();
    };
  }

  /** Ask the command endpoint whether the token is good, to explain a failed EventSource. */
  private async probe(): Promise<void> {
    try {
      const res = await this.ctx.platform.fetch(`${this.ctx.baseUrl}/v1/cmd`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.ctx.token}` },
        body: JSON.stringify({ t: 'ping' }),
        signal: this.abort.signal,
      });
      const body = await res.text().catch(() => '');
      if (res.status === 401) return this.end('unauthorized', 401, errorCode(body));
      this.end('closed', 0, 'event stream refused');
    } catch {
      this.end('closed', 0, 'event stream refused');
    }
  }

  send(cmd: Command): void {
    if (!this.ended) this.commands.send(cmd);
  }

  close(): void {
    this.end('closed', 1000, 'client closed');
  }

  private end(kind: 'unauthorized' | 'closed', code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.commands.close();
    this.abort.abort();
    this.closeSource?.();
    this.ctx.sink.end({ kind, code, reason });
  }
}
