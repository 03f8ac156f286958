/**
 * Read marking, made reliable: `mark(conv, seq)` resolves once the server has the read watermark
 * at `seq` or beyond. Reads are idempotent (the watermark only moves forward), so a mark that met a
 * lost link or a temporary error is simply sent again; marks of one conversation coalesce, and only
 * the highest is sent. A permanent error (e.g. NOT_MEMBER) rejects the marks waiting on it.
 */
import { ParleyError, type ConversationId, type Seq } from '@parley/protocol';
import { Backoff, type BackoffOptions } from './Backoff.ts';
import { ClosedError, DisconnectedError } from './errors.ts';

interface ConvMarks {
  target: Seq;
  done: Seq;
  busy: boolean;
  waiters: { seq: Seq; resolve(): void; reject(e: Error): void }[];
}

export class ReadMarks {
  private readonly convs = new Map<ConversationId, ConvMarks>();
  private closed = false;

  constructor(
    private readonly send: (conv: ConversationId, seq: Seq) => Promise<unknown>,
    private readonly retry: BackoffOptions,
  ) {}

  private get(conv: ConversationId): ConvMarks {
    let m = this.convs.get(conv);
    if (!m) this.convs.set(conv, (m = { target: 0, done: 0, busy: false, waiters: [] }));
    return m;
  }

  /** The highest read mark known to be stored, for this device or another of the user's. */
  readUpTo(conv: ConversationId): Seq {
    return this.convs.get(conv)?.done ?? 0;
  }

  mark(conv: ConversationId, seq: Seq): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError());
    const m = this.get(conv);
    if (seq <= m.done) return Promise.resolve();
    m.target = Math.max(m.target, seq);
    const p = new Promise<void>((resolve, reject) => m.waiters.push({ seq, resolve, reject }));
    // Marking read is often fire-and-forget (`void client.markRead(...)`): a rejection on close must
    // not crash the process as an unhandled one. Callers that await still see it.
    p.catch(() => {});
    if (!m.busy) void this.run(conv, m);
    return p;
  }

  /** The server says the user's read watermark is at `seq` (a `read` event). */
  observed(conv: ConversationId, seq: Seq): void {
    const m = this.get(conv);
    if (seq > m.done) m.done = seq;
    this.settle(m);
  }

  private settle(m: ConvMarks): void {
    m.waiters = m.waiters.filter((w) => {
      if (w.seq > m.done) return true;
      w.resolve();
      return false;
    });
  }

  private async run(conv: ConversationId, m: ConvMarks): Promise<void> {
    m.busy = true;
    const backoff = new Backoff(this.retry);
    while (!this.closed && m.done < m.target) {
      const seq = m.target;
      try {
        await this.send(conv, seq);
        if (seq > m.done) m.done = seq;
        this.settle(m);
      } catch (err) {
        const e = err instanceof ParleyError ? err : new ParleyError('INTERNAL', String(err));
        if (this.closed) break;
        if (!(e instanceof DisconnectedError) && !e.temporary) {
          for (const w of m.waiters.splice(0)) w.reject(e);
          m.target = m.done;
          break;
        }
        await new Promise((r) => setTimeout(r, backoff.next()));
      }
    }
    m.busy = false;
  }

  close(): void {
    this.closed = true;
    for (const m of this.convs.values()) for (const w of m.waiters.splice(0)) w.reject(new ClosedError());
  }
}
