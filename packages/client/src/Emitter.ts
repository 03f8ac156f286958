/**
 * A small typed event emitter that works the same in browsers and Node. Listener errors are caught
 * and reported to the `onListenerError` hook, never thrown into the code that emitted the event:
 * one faulty listener must not break the client's own state machine.
 */
export type EventMap = object;
export type Listener<T> = (payload: T) => void;

export class Emitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

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

  /** Resolves with the next payload of `event` that satisfies `pred`. */
  next<K extends keyof E>(event: K, pred: (payload: E[K]) => boolean = () => true): Promise<E[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        if (!pred(payload)) return;
        off();
        resolve(payload);
      });
    });
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
