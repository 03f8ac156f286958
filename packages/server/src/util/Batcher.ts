/**
 * Group commit: items submitted in the same turn of the event loop (or within `delayMs`) are handed
 * to `flush` together, at most `max` at a time, and never two flushes at once. Each submitter's
 * promise settles with its own result. If `flush` rejects, every item of that batch rejects with the
 * same error: nothing was committed for any of them (the store's contract). When the error says the
 * backing service is down (`failFast`), everything queued behind that batch fails at once too, so
 * callers learn it now and retry, instead of each waiting out its own connection timeout.
 */
export class Batcher<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly max: number,
    private readonly delayMs = 0,
    private readonly failFast: (err: unknown) => boolean = () => false,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      void this.drain();
    };
    if (this.delayMs > 0) setTimeout(run, this.delayMs);
    else setImmediate(run);
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i] as R));
      } catch (err) {
        for (const b of batch) b.reject(err);
        if (this.failFast(err)) for (const b of this.queue.splice(0)) b.reject(err);
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
