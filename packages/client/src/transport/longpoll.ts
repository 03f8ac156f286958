/**
 * Long-polling transport: `GET /v1/poll?token=T&cursor=N` answers `{"frames": [...]}` at once when
 * events wait, else holds (about 25 s) and answers without events. Each poll carries the cursor the
 * client has processed, which acknowledges everything before it, so no `ack` commands are sent.
 * Commands go over `POST /v1/cmd`. The next poll starts as soon as the previous answer has been
 * handed to the client (whose processing is synchronous), so the cursor it carries is current.
 *
 * Every poll is a short session of its own and starts with a `welcome`. The first poll of an
 * attempt asks `wait=0` ("what is there now") so that the welcome arrives at once and a working
 * long-poll link is not mistaken for a silent one. An answer may end with `close: {code, reason}`
 * (4001 unauthorized, 1012 draining ...), which ends the transport with that code.
 */
import { CloseCodes, type Command, type ServerFrame } from '@parley/protocol';
import { timeoutSignal } from './abort.ts';
import { HttpCommands } from './http-commands.ts';
import { closeNotice, streamUrl, type ClientTransport, type TransportContext } from './Transport.ts';

export interface LongPollOptions {
  /** Abort a poll that has not answered after this long, ms (the server holds ~25 s). Default 40000. */
  pollTimeoutMs: number;
}

export class LongPollTransport implements ClientTransport {
  readonly name = 'longpoll' as const;
  readonly explicitAcks = false;
  readonly bidirectional = false;
  private readonly commands: HttpCommands;
  private readonly abort = new AbortController();
  private ended = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly opts: LongPollOptions = { pollTimeoutMs: 40_000 },
  ) {
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
    void this.loop();
  }

  private async loop(): Promise<void> {
    let first = true;
    while (!this.ended) {
      let status = 0;
      let body: unknown;
      const t = timeoutSignal(this.abort.signal, this.opts.pollTimeoutMs);
      try {
        let url = streamUrl(this.ctx.baseUrl, '/v1/poll', this.ctx.token, this.ctx.cursor());
        if (first) url += '&wait=0';
        first = false;
        const res = await this.ctx.platform.fetch(url, { headers: { accept: 'application/json' }, signal: t.signal, cache: 'no-store' });
        status = res.status;
        const text = await res.text();
        body = text ? JSON.parse(text) : null;
      } catch (err) {
        return this.end('closed', 0, `poll failed: ${(err as Error).message ?? String(err)}`);
      } finally {
        t.done();
      }
      if (this.ended) return;
      if (status === 401) {
        const code = (body as { code?: unknown } | null)?.code;
        return this.end('unauthorized', 401, typeof code === 'string' ? code : 'UNAUTHORIZED');
      }
      const frames = (body as { frames?: unknown } | null)?.frames;
      if (status < 200 || status > 299 || !Array.isArray(frames)) return this.end('closed', status, `poll refused (HTTP ${status})`);
      for (const f of frames as ServerFrame[]) {
        if (this.ended) return;
        this.ctx.sink.frame(f);
      }
      const notice = closeNotice((body as { close?: unknown }).close);
      if (notice) return this.end(notice.code === CloseCodes.UNAUTHORIZED ? 'unauthorized' : 'closed', notice.code, notice.reason);
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
    this.ctx.sink.end({ kind, code, reason });
  }
}
