/**
 * A small typed event emitter that works the same in browsers and Node. Listener errors are caught
 * and reported to the `onListenerError` hook, never thrown into the code that emitted the event:
 * one faulty listener must not break the client's own state machine.
 */
export type EventMap = object;
export type Listener<T> = (payload: T) => void;

export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();
  /** Rejecters of the promises `next` handed out and not yet settled. */
  private readonly waiting = new Set<(err: Error) => void>();
  private closedWith: Error | null = null;

  constructor(private readonly onListenerError: (err: unknown, event: keyof E) => void = () => {}) {}

  /** Add a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Add a listener that runs once. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /**
   * Resolves with the next payload of `event` that satisfies `pred`; rejects with the error given
   * to `close` if that comes first (or came before the call), so no caller waits forever.
   */
  next<K extends keyof E>(event: K, pred: (payload: E[K]) => boolean = () => true): Promise<E[K]> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const abandon = (err: Error) => {
        off();
        reject(err);
      };
      const off = this.on(event, (payload) => {
        if (!pred(payload)) return;
        off();
        this.waiting.delete(abandon);
        resolve(payload);
      });
      this.waiting.add(abandon);
    });
  }

  /** Rejects every pending `next` with `err`, and every later one; removes all listeners. */
  close(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const abandon of waiting) abandon(err);
    this.listeners.clear();
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }
}
