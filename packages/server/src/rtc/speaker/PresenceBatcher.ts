/**
 * Turns a room's bursts of joins and leaves into at most one event per `intervalMs`, so 1,000
 * participants joining make ~1,000 frames per interval (one per member) instead of ~1,000,000 (one
 * per member per join). A lone change goes out on the next turn of the event loop; changes arriving
 * within `intervalMs` of the last flush wait for the next one.
 *
 * Coalescing within a batch: a participant who joins and leaves before the batch goes out is never
 * announced; one who was announced and leaves is in `left`. Order within `joined` is join order.
 */

export interface PresenceBatch<Id, Info> {
  joined: Info[];
  left: Id[];
}

export interface PresenceBatcherOptions {
  /** Shortest time between two batches (ms). Default 250. */
  intervalMs: number;
  now: () => number;
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (t: unknown) => void;
}

export class PresenceBatcher<Id, Info> {
  private readonly o: PresenceBatcherOptions;
  private joined = new Map<Id, Info>();
  private left = new Set<Id>();
  private timer: unknown = null;
  private lastFlush = -Infinity;
  private closed = false;

  constructor(
    private readonly flush: (batch: PresenceBatch<Id, Info>) => void,
    options: Partial<PresenceBatcherOptions> = {},
  ) {
    this.o = {
      intervalMs: 250,
      now: () => performance.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
      ...options,
    };
  }

  join(id: Id, info: Info): void {
    if (this.closed) return;
    this.left.delete(id);
    this.joined.set(id, info);
    this.schedule();
  }

  leave(id: Id): void {
    if (this.closed) return;
    if (!this.joined.delete(id)) this.left.add(id);
    this.schedule();
  }

  /** True while `id`'s join waits in the batch (not yet announced). */
  isPending(id: Id): boolean {
    return this.joined.has(id);
  }

  /** Send what is pending now (e.g. before a `joined` snapshot, so nobody is announced twice). */
  flushNow(): void {
    if (this.timer !== null) this.o.clearTimer(this.timer);
    this.timer = null;
    if (this.joined.size === 0 && this.left.size === 0) return;
    const batch = { joined: [...this.joined.values()], left: [...this.left] };
    this.joined = new Map();
    this.left = new Set();
    this.lastFlush = this.o.now();
    this.flush(batch);
  }

  close(): void {
    if (this.timer !== null) this.o.clearTimer(this.timer);
    this.timer = null;
    this.closed = true;
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastFlush + this.o.intervalMs - this.o.now());
    this.timer = this.o.setTimer(() => {
      this.timer = null;
      this.flushNow();
    }, wait);
  }
}
