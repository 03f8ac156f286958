/**
 * A minimal stand-in for the browser's EventSource (Node 20 has none), so the tests can run the
 * SDK's EventSource code path: like the real one it hides the HTTP status of a failed stream
 * (only `onerror`), dispatches unnamed events to `onmessage` and named ones to their listeners.
 * Unlike the real one it never reconnects by itself (the SDK closes it on the first error anyway).
 */
import { SseParser, type EventSourceLike } from '../src/index.ts';

export class FakeEventSource implements EventSourceLike {
  onmessage: ((ev: { data: string; lastEventId?: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  private readonly listeners = new Map<string, ((ev: { data: string }) => void)[]>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(url: string) {
    void this.run(url);
  }

  addEventListener(type: string, listener: (ev: { data: string }) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private fail(): void {
    if (!this.closed) this.onerror?.({ type: 'error' });
  }

  private async run(url: string): Promise<void> {
    try {
      const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: this.abort.signal });
      if (res.status !== 200 || !res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
        await res.body?.cancel();
        return this.fail();
      }
      this.onopen?.({ type: 'open' });
      const parser = new SseParser((m) => {
        if (this.closed) return;
        if (m.event === 'message') this.onmessage?.({ data: m.data, lastEventId: m.id });
        else for (const l of this.listeners.get(m.event) ?? []) l({ data: m.data });
      });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      this.fail();
    } catch {
      this.fail();
    }
  }
}
