/**
 * Keyed refetching where the last answer wins.
 *
 * Contract: `run(key)` fetches the server's copy of `key` and hands it to `apply`. At most one
 * fetch per key runs at a time; calls made while one runs share its promise, and mark it stale.
 * A stale fetch's answer is dropped and the fetch runs again, because it may predate the change
 * that prompted the call: applied, it would undo that change, and nothing would come to correct
 * it. `invalidate(key)` marks a running fetch stale without asking for one (for a newer copy the
 * caller got another way, such as a command's answer). `apply` runs only with the answer of a
 * fetch that started after every call and invalidation so far; `fail` likewise, with its error.
 */
export class Refetcher<K, V> {
  private readonly running = new Map<K, { done: Promise<void>; stale: boolean }>();

  constructor(
    private readonly fetch: (key: K) => Promise<V>,
    private readonly apply: (key: K, value: V) => void,
    private readonly fail: (key: K, err: unknown) => void,
    /** After each run, applied or not. */
    private readonly settled: (key: K) => void = () => {},
  ) {}

  run(key: K): Promise<void> {
    const r = this.running.get(key);
    if (r) {
      r.stale = true;
      return r.done;
    }
    const state = { done: Promise.resolve(), stale: false };
    state.done = this.loop(key, state).finally(() => {
      this.running.delete(key);
      this.settled(key);
    });
    this.running.set(key, state);
    return state.done;
  }

  invalidate(key: K): void {
    const r = this.running.get(key);
    if (r) r.stale = true;
  }

  private async loop(key: K, state: { stale: boolean }): Promise<void> {
    for (;;) {
      state.stale = false;
      let value: V;
      try {
        value = await this.fetch(key);
      } catch (err: unknown) {
        if (state.stale) continue;
        this.fail(key, err);
        return;
      }
      if (state.stale) continue;
      this.apply(key, value);
      return;
    }
  }
}
