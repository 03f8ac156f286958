/**
 * A minimal Server-Sent Events reader on top of fetch, for runtimes without EventSource (Node 20).
 * It parses the event-stream format (WHATWG HTML, "Server-sent events"): lines split on CR, LF or
 * CRLF; `data:` lines accumulate; a blank line dispatches; lines starting with ':' are comments
 * (keep-alives); `id:` sets the last event id. Unlike EventSource it never reconnects by itself and
 * it exposes the HTTP status, which is what lets the client tell 401 from a blocked stream.
 */
export interface SseMessage {
  data: string;
  event: string;
  id: string;
}

/** Incremental parser: feed text chunks, get complete messages. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastId = '';
  private pendingCR = false;

  constructor(private readonly onMessage: (m: SseMessage) => void) {}

  push(chunk: string): void {
    let text = chunk;
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== '\n' && ch !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (ch === '\r') {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onMessage({ data: this.data.join('\n'), event: this.event || 'message', id: this.lastId });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\u0000')) this.lastId = value;
    // `retry:` is ignored: the client's own backoff decides when to reconnect.
  }
}

export interface SseStreamHandlers {
  /** The response arrived; `ok` false means a non-2xx status or a body that is not an event stream. */
  response(status: number, ok: boolean, body: string): void;
  message(m: SseMessage): void;
  /** The stream ended (server, network or abort); called once, after `response` when there was one. */
  end(error: unknown): void;
}

/** Open an event stream with fetch and read it until it ends or `signal` aborts. */
export async function readEventStream(fetchFn: typeof fetch, url: string, signal: AbortSignal, h: SseStreamHandlers): Promise<void> {
  let error: unknown = null;
  try {
    const res = await fetchFn(url, { headers: { accept: 'text/event-stream' }, signal, cache: 'no-store' });
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok || !type.includes('text/event-stream') || !res.body) {
      const body = await res.text().catch(() => '');
      h.response(res.status, false, body);
      return;
    }
    h.response(res.status, true, '');
    const parser = new SseParser((m) => h.message(m));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
    }
  } catch (err) {
    error = err;
  } finally {
    h.end(error);
  }
}
