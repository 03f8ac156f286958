/**
 * A small typed event emitter for the rtc tree. A listener that throws is reported to `onError` and
 * never reaches the emitting code: a bad listener must not leave a half-closed room behind.
 */
type Listener = (...args: never[]) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners = new Map<keyof E, Set<Listener>>();

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Returns the function that removes the listener. */
  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const l = fn as unknown as Listener;
    set.add(l);
    return () => void set.delete(l);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as unknown as (...a: E[K]) => void)(...args);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  protected removeAllListeners(): void {
    this.listeners.clear();
  }
}
