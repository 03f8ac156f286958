/**
 * Server-Sent Events transport: `GET /v1/sse?token=T[&cursor=N]` (or `Authorization: Bearer T`).
 * The client talks back with `POST /v1/cmd`; this stream only carries server frames.
 *
 * Wire format, one SSE message per server frame:
 *   id: <cursor>          only on `ev` frames, so EventSource's Last-Event-ID is the stream cursor
 *   retry: <ms>           on `reconnect` frames, so a browser's own reconnect waits as asked
 *   data: <JSON frame>    always exactly one line (JSON.stringify never emits a raw newline)
 * A stream the server ends on purpose says why first, as a named event that `onmessage` ignores:
 *   event: close
 *   data: {"code":4009,"reason":"outbound queue limit reached"}
 * and `: ka` comment lines keep idle proxies from timing the stream out (`keepAliveMs`).
 *
 * Resume: `Last-Event-ID` wins over `cursor` when both are present, because it is what EventSource
 * sends by itself on reconnect while the URL (and its `cursor`) stays the one first given.
 *
 * Why `reply.hijack()` rather than a raw `server.on('request')` handler: authentication, the error
 * body on 401 and the 503 while draining stay ordinary Fastify code shared with every other route;
 * only the long-lived body is written by hand (see http-stream.ts).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { encodeFrame, type ServerFrame } from '@parley/protocol';
import { bearer } from '../http/bearer.ts';
import type { Transport } from '../session/Transport.ts';
import { clientGone, parseCount, query, refuseWhileDraining, type HttpStreamDeps } from './http-stream.ts';

export const SSE_PATH = '/v1/sse';

export interface SseOptions {
  /** Interval of `: ka` comment lines on an idle or busy stream (ms). Default 15000. */
  keepAliveMs: number;
  /** `retry:` sent when the stream opens: how long EventSource waits before reconnecting (ms). Default 1000. */
  retryMs: number;
  /** `buffered()` at or below this counts as drained (bytes). Default 64 KiB. */
  lowWaterBytes: number;
}

export const defaultSseOptions: SseOptions = { keepAliveMs: 15_000, retryMs: 1000, lowWaterBytes: 64 * 1024 };

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  // nginx buffers proxied responses unless told not to; other proxies honour Cache-Control.
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

/** The SSE text of one server frame. */
export function sseMessage(frame: ServerFrame): string {
  let head = '';
  if (frame.t === 'ev') head = `id: ${frame.c}\n`;
  else if (frame.t === 'reconnect') head = `retry: ${frame.retryMs}\n`;
  return `${head}data: ${encodeFrame(frame)}\n\n`;
}

export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  readonly unidirectional = true;
  private handlers: (() => void)[] = [];
  private ended = false;
  private corked = false;
  private backlogAtCork = 0;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: SseOptions,
  ) {
    res.on('close', () => this.end());
    // A write to a reset socket reports here; 'close' follows and ends the transport.
    res.on('error', () => this.end());
    this.keepAlive = setInterval(() => this.raw(': ka\n\n'), opts.keepAliveMs);
    this.keepAlive.unref();
    if (clientGone(res)) {
      this.end();
      return;
    }
    res.writeHead(200, HEADERS);
    // Sends the head at once, so the client knows it is connected before the first frame.
    this.raw(`retry: ${opts.retryMs}\n\n`);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAlive);
    for (const h of this.handlers.splice(0)) h();
  }

  /**
   * Frames written in one turn of the event loop (a page of catch-up, a burst of live events) leave
   * in one chunk: the response is corked on the first write and uncorked on the next tick.
   */
  private raw(text: string): void {
    if (this.ended || this.res.writableEnded) return;
    if (!this.corked) {
      this.backlogAtCork = this.res.writableLength;
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.res.write(text);
  }

  write(frame: ServerFrame): void {
    this.raw(sseMessage(frame));
  }

  /** The backlog; while corked, the figure from before this tick (its frames leave together). */
  buffered(): number {
    if (this.ended) return 0;
    return this.corked ? this.backlogAtCork : this.res.writableLength;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.ended || this.res.writableLength <= this.opts.lowWaterBytes) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
  }

  close(code: number, reason: string): void {
    if (this.ended) return;
    this.raw(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
    if (!this.res.writableEnded) this.res.end();
    this.end();
  }

  onClose(handler: () => void): void {
    if (this.ended) handler();
    else this.handlers.push(handler);
  }
}

export function sseRoutes(app: FastifyInstance, deps: HttpStreamDeps, options: Partial<SseOptions> = {}): void {
  const opts: SseOptions = { ...defaultSseOptions, ...options };
  if (!(opts.keepAliveMs > 0 && opts.retryMs >= 0 && opts.lowWaterBytes >= 0)) throw new RangeError('sse options');

  app.get(SSE_PATH, async (req, reply) => {
    refuseWhileDraining(deps);
    const lastEventId = req.headers['last-event-id'];
    const fromHeader = parseCount(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, 'Last-Event-ID');
    const from = fromHeader ?? parseCount(query(req)['cursor'], 'cursor');
    const principal = await deps.auth.authenticate(bearer(req));
    // Checked again after the await: stop() closes every session synchronously, so a stream that
    // passes here is either closed by the drain or was never seen by it.
    refuseWhileDraining(deps);
    reply.hijack();
    const transport = new SseTransport(reply.raw, opts);
    if (transport.isEnded) return;
    try {
      await deps.openSession(principal, transport, from);
    } catch (err) {
      deps.log.warn({ err }, 'sse session failed to open');
      transport.close(1011, 'INTERNAL');
    }
  });
}
