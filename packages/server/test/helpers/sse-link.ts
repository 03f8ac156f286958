/**
 * The SSE Link for the test client: a streaming `fetch` of GET /v1/sse whose event stream is parsed
 * here (as EventSource would), with commands sent by POST /v1/cmd. Also the pieces other tests use
 * to misbehave or reconnect by hand: `SseParser`, `openSse`, `postCommand`.
 */
import http from 'node:http';
import type { Command, ServerFrame } from '@parley/protocol';
import type { Connector, Link } from './clients.ts';

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * An event-stream parser after the WHATWG algorithm, less what tests never meet: lines end in
 * `\n` (or `\r\n`), fields are `data`, `id`, `event`, `retry`; `:` lines are comments.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  lastEventId: string | null = null;
  retry: number | null = null;
  comments = 0;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.id !== null) this.lastEventId = this.id;
      if (this.data.length > 0) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id ?? this.lastEventId });
      this.data = [];
      this.event = '';
      this.id = null;
      return;
    }
    if (line.startsWith(':')) {
      this.comments += 1;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

export interface SseStream {
  status: number;
  headers: Headers;
  parser: SseParser;
  /** Resolves when the stream ends, however it ends. */
  done: Promise<void>;
  abort(): void;
}

/**
 * One HTTP request with `node:http`. The links use an Agent each and destroy it on close, so that
 * every socket they opened closes at once (the server sees the client leave, and a server stopping
 * after the test is not kept waiting by a connection the client opened but never used).
 */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal; agent?: http.Agent },
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent, signal: opts.signal }, resolve);
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function readBody(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

function toHeaders(res: http.IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
  return h;
}

/** Opens GET /v1/sse and feeds its body to a parser. Resolves once the response head arrived. */
export async function openSse(
  url: string,
  opts: { token?: string; bearer?: string; cursor?: number; lastEventId?: string; agent?: http.Agent },
  onEvent: (e: SseEvent) => void,
): Promise<SseStream> {
  const q = new URLSearchParams();
  if (opts.token !== undefined) q.set('token', opts.token);
  if (opts.cursor !== undefined) q.set('cursor', String(opts.cursor));
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (opts.bearer) headers['authorization'] = `Bearer ${opts.bearer}`;
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  const ac = new AbortController();
  const res = await httpRequest(`${url}/v1/sse?${q}`, { headers, signal: ac.signal, agent: opts.agent });
  const parser = new SseParser(onEvent);
  const done = (async () => {
    res.setEncoding('utf8');
    try {
      for await (const chunk of res) parser.push(chunk as string);
    } catch {
      // aborted or reset: the stream is over either way
    }
  })();
  return { status: res.statusCode ?? 0, headers: toHeaders(res), parser, done, abort: () => ac.abort() };
}

/** One command (or raw text) over POST /v1/cmd; the answer frame(s), whatever the status. */
export async function postCommand(url: string, token: string, cmd: Command | string, signal?: AbortSignal, agent?: http.Agent): Promise<ServerFrame[]> {
  const res = await httpRequest(`${url}/v1/cmd`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: typeof cmd === 'string' ? cmd : JSON.stringify(cmd),
    signal,
    agent,
  });
  const text = await readBody(res);
  if (!text) return [];
  const body = JSON.parse(text) as ServerFrame | ServerFrame[];
  return Array.isArray(body) ? body : [body];
}

/** Link plumbing shared by the HTTP links: buffered frames until a handler is set, one close. */
export class LinkBase {
  private frameHandlers: ((f: ServerFrame) => void)[] = [];
  private closeHandlers: ((code: number, reason: string) => void)[] = [];
  private pending: ServerFrame[] = [];
  protected closed = false;
  protected readonly ac = new AbortController();
  protected readonly agent = new http.Agent({ keepAlive: true });

  constructor(
    readonly kind: string,
    protected readonly url: string,
    protected readonly token: string,
  ) {}

  protected emit(f: ServerFrame): void {
    if (this.frameHandlers.length === 0) this.pending.push(f);
    for (const h of this.frameHandlers) h(f);
  }

  protected ended(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ac.abort();
    this.agent.destroy();
    for (const h of this.closeHandlers) h(code, reason);
  }

  send(cmd: Command | string): void {
    if (this.closed) return;
    postCommand(this.url, this.token, cmd, this.ac.signal, this.agent).then(
      (frames) => frames.forEach((f) => this.emit(f)),
      () => {},
    );
  }

  close(): void {
    this.ended(1000, 'client closed');
  }

  onFrame(h: (f: ServerFrame) => void): void {
    this.frameHandlers.push(h);
    for (const f of this.pending.splice(0)) h(f);
  }

  onClose(h: (code: number, reason: string) => void): void {
    this.closeHandlers.push(h);
  }
}

class SseLink extends LinkBase implements Link {
  closeEvent: { code: number; reason: string } | null = null;

  async start(cursor?: number): Promise<void> {
    const stream = await openSse(this.url, { token: this.token, cursor, agent: this.agent }, (e) => {
      if (e.event === 'close') this.closeEvent = JSON.parse(e.data) as { code: number; reason: string };
      else if (e.event === 'message') this.emit(JSON.parse(e.data) as ServerFrame);
    });
    if (stream.status !== 200) {
      stream.abort();
      throw new Error(`sse refused: ${stream.status}`);
    }
    this.ac.signal.addEventListener('abort', () => stream.abort());
    void stream.done.then(() => this.ended(this.closeEvent?.code ?? 1006, this.closeEvent?.reason ?? 'stream ended'));
  }
}

export const connectSse: Connector = async (url, token, cursor) => {
  const link = new SseLink('sse', url, token);
  await link.start(cursor);
  return link;
};
