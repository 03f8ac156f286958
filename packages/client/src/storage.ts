/**
 * Where the client keeps what must outlive a connection: its event cursor and its outbox.
 * The port is async so that IndexedDB, a file or a native store can implement it.
 *
 * Contract: `set` then `get` of the same key returns the value; `keys(prefix)` lists the keys that
 * start with `prefix`. One storage (or one `prefix`) per account and device: the cursor and the
 * outbox belong to one user's device.
 */
export interface Storage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
  keys(prefix: string): Promise<string[]>;
}

/** The default: survives reconnects, not restarts. */
export class MemoryStorage implements Storage {
  private readonly map = new Map<string, string>();

  async get(key: string): Promise<string | null> {
    return this.map.get(key) ?? null;
  }
  async set(key: string, value: string): Promise<void> {
    this.map.set(key, value);
  }
  async remove(key: string): Promise<void> {
    this.map.delete(key);
  }
  async keys(prefix: string): Promise<string[]> {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix));
  }
}

/** The subset of the Web Storage API used here (window.localStorage satisfies it). */
export interface WebStorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Browser storage on `localStorage` (or any Web Storage). Every key is prefixed with `namespace`,
 * so several accounts can share one origin by using different namespaces.
 */
export class LocalStorage implements Storage {
  private readonly store: WebStorageLike;

  constructor(
    private readonly namespace = 'parley:',
    store?: WebStorageLike,
  ) {
    const found = store ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
    if (!found) throw new TypeError('LocalStorage: no localStorage in this environment; pass one or use MemoryStorage');
    this.store = found;
  }

  async get(key: string): Promise<string | null> {
    return this.store.getItem(this.namespace + key);
  }
  async set(key: string, value: string): Promise<void> {
    this.store.setItem(this.namespace + key, value);
  }
  async remove(key: string): Promise<void> {
    this.store.removeItem(this.namespace + key);
  }
  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const full = this.namespace + prefix;
    for (let i = 0; i < this.store.length; i++) {
      const k = this.store.key(i);
      if (k !== null && k.startsWith(full)) out.push(k.slice(this.namespace.length));
    }
    return out;
  }
}
