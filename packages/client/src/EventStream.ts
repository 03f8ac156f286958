/**
 * The client's position in its user's event log, and the rules that make delivery exactly-once in
 * effect:
 * - an `ev` with a cursor at or below the last one processed is a duplicate and is dropped;
 * - an `ev` beyond the next expected cursor reveals a gap: it is held, and a `sync` command
 *   fetches the missing range; held events follow once the gap is filled;
 * - processed cursors are acknowledged cumulatively, debounced (`ackDelayMs` or every `ackEvery`
 *   events) and, while events keep coming, at most one ack per `ackIntervalMs`, with
 *   `{t:'ack', cursor}` on transports that ack explicitly; long polling acks with the cursor of its
 *   next poll. The cursor is persisted on the debounce alone (it is local and cheap).
 */
import type { Cursor, CursorEvent, LogEvent, Results, WelcomeFrame } from '@parley/protocol';

export interface EventStreamDeps {
  /** Hand one event to the application, in cursor order. */
  process(ev: CursorEvent): void;
  /** Fetch events after `after` (the `sync` command). */
  sync(after: Cursor): Promise<Results['sync']>;
  /** Send an ack on the open link, if the link acks explicitly; false when it was not sent. */
  ack(cursor: Cursor): boolean;
  /** Persist the cursor. */
  persist(cursor: Cursor): void;
  error(err: unknown): void;
  ackDelayMs: number;
  ackEvery: number;
  /**
   * Least time between two acks while events keep arriving (the first event after a quiet spell is
   * still acked after `ackDelayMs`). Every member of a busy group acks the server: at one ack per
   * event that is as many frames and row writes in as messages out.
   */
  ackIntervalMs: number;
}

export class EventStream {
  private last: Cursor | null;
  private acked: Cursor = 0;
  private persisted: Cursor = 0;
  private unacked = 0;
  private readonly held = new Map<Cursor, LogEvent>();
  private syncing = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the last ack was sent (Date.now()). */
  private ackedAt = -Infinity;

  constructor(
    private readonly deps: EventStreamDeps,
    initial: Cursor | null,
  ) {
    this.last = initial;
    if (initial !== null) this.persisted = initial;
  }

  /** Set the stored cursor before the first link opens. */
  restore(cursor: Cursor): void {
    if (this.last !== null) return;
    this.last = cursor;
    this.persisted = cursor;
  }

  /** The last cursor processed (null before the first `welcome` when nothing was stored). */
  get cursor(): Cursor | null {
    return this.last;
  }

  /**
   * A stream (re)started after `w.from`. `reset`: the server refused our cursor (BAD_CURSOR), so
   * its `from` is the truth. Held events are dropped: the new stream resends them in order.
   */
  welcome(w: WelcomeFrame, reset: boolean): void {
    this.held.clear();
    if (this.last === null || reset) {
      this.last = w.from;
      this.acked = Math.min(this.acked, w.from);
      this.deps.persist(w.from);
      this.persisted = w.from;
    }
    // An ack sent on a link that died may not have arrived: ack once more on the new link.
    this.acked = -1;
    if (this.last > 0) this.schedule(0, true);
  }

  receive(c: Cursor, e: LogEvent): void {
    if (this.last === null) this.last = c - 1;
    if (c <= this.last) return;
    if (c === this.last + 1) {
      this.apply({ c, e });
      this.drainHeld();
      return;
    }
    this.held.set(c, e);
    void this.fill();
  }

  private apply(ev: CursorEvent): void {
    this.last = ev.c;
    this.unacked++;
    try {
      this.deps.process(ev);
    } catch (err) {
      this.deps.error(err);
    }
    if (this.unacked >= this.deps.ackEvery) this.schedule(0, true);
    else this.schedule(this.deps.ackDelayMs, false);
  }

  private drainHeld(): void {
    for (;;) {
      const next = (this.last ?? 0) + 1;
      const e = this.held.get(next);
      if (e === undefined) break;
      this.held.delete(next);
      this.apply({ c: next, e });
    }
    for (const c of this.held.keys()) if (c <= (this.last ?? 0)) this.held.delete(c);
  }

  /** Fetch the gap with `sync` until the held events connect (or the link ends; a new stream refills). */
  private async fill(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      while (this.held.size > 0 && this.last !== null && !this.held.has(this.last + 1)) {
        const { events } = await this.deps.sync(this.last);
        if (events.length === 0) break;
        for (const ev of events) {
          if (this.last === null || ev.c <= this.last) continue;
          if (ev.c !== this.last + 1) break;
          this.apply(ev);
        }
        this.drainHeld();
      }
    } catch (err) {
      this.deps.error(err);
    } finally {
      this.syncing = false;
    }
    this.drainHeld();
  }

  /** `force`: ack when the timer fires whatever `ackIntervalMs` says (a new link, `ackEvery`). */
  private schedule(delayMs: number, force: boolean): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (force) this.flush();
      else this.debounced();
    }, delayMs);
  }

  /** The debounce ran out: persist now; ack now, or once `ackIntervalMs` has passed since the last. */
  private debounced(): void {
    const wait = this.ackedAt + this.deps.ackIntervalMs - Date.now();
    if (wait <= 0) return this.flush();
    this.persist();
    this.schedule(wait, true);
  }

  private persist(): void {
    const c = this.last;
    if (c !== null && c > this.persisted) {
      this.persisted = c;
      this.deps.persist(c);
    }
  }

  /** Ack and persist the current cursor now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.last;
    if (c === null) return;
    this.unacked = 0;
    this.persist();
    if (c > this.acked && this.deps.ack(c)) {
      this.acked = c;
      this.ackedAt = Date.now();
    }
  }

  close(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
