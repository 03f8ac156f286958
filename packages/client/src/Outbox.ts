/**
 * Messages on their way to the server. Each gets a client message id (`cmid`) once, when it is
 * added, and keeps it across every retry and reconnect: the server stores a message once per
 * (sender, cmid), so a retry of a send that did commit returns the original `seq`.
 *
 * - Entries go out in the order they were added, at most `window` unanswered at a time. When the
 *   link drops, the unanswered ones are sent again, in order, on the next link.
 * - A temporary error (`ErrorCodes[code].temporary`) or an auth error retries the entry after a
 *   backoff; the entries behind it wait, to keep the conversation's order. A permanent error
 *   rejects the entry's promise and drops it.
 * - Entries are persisted in the client's Storage (one key each), so a restarted client resumes
 *   sending what it had not delivered.
 */
import { ParleyError, type ConversationId, type Results } from '@parley/protocol';
import { Backoff, type BackoffOptions } from './Backoff.ts';
import { ClosedError, DisconnectedError, isAuthCode } from './errors.ts';
import type { Storage } from './storage.ts';

export interface OutboxEntry {
  cmid: string;
  conv: ConversationId;
  body: string;
  kind?: string;
  /** Local creation time, ms since the epoch. */
  createdAt: number;
  /** Order of creation on this device. */
  n: number;
}

export type SendResult = Results['send'];

export interface OutboxDeps {
  storage: Storage;
  /** Send one entry; resolves with the server's answer or rejects with a ParleyError. */
  transmit(entry: OutboxEntry): Promise<SendResult>;
  sent(entry: OutboxEntry, result: SendResult): void;
  failed(entry: OutboxEntry, err: ParleyError): void;
  error(err: unknown): void;
  window: number;
  retry: BackoffOptions;
}

interface Slot {
  entry: OutboxEntry;
  state: 'queued' | 'inflight' | 'waiting';
  backoff: Backoff;
  timer: ReturnType<typeof setTimeout> | null;
  waiters: { resolve(r: SendResult): void; reject(e: Error): void }[];
}

const PREFIX = 'outbox:';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then 74 random bits. Ids made later
 * sort later, so the server's (sender, cmid) idempotency index grows at one end per sender
 * instead of taking each insert on a random page (one page written per commit, not one per
 * message). Random bits from `crypto.getRandomValues` where there is one.
 */
export function newClientMessageId(now = Date.now()): string {
  const b = new Uint8Array(16);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  for (let i = 5; i >= 0; i--) {
    b[i] = now % 256;
    now = Math.floor(now / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class Outbox {
  private slots: Slot[] = [];
  private online = false;
  private closed = false;
  private counter = 0;
  private io: Promise<void> = Promise.resolve();
  private readonly ready: Promise<void>;
  private isLoaded = false;

  constructor(private readonly deps: OutboxDeps) {
    this.ready = this.load()
      .catch((err: unknown) => deps.error(err))
      .finally(() => {
        this.isLoaded = true;
      });
  }

  private async load(): Promise<void> {
    const keys = await this.deps.storage.keys(PREFIX);
    const entries: OutboxEntry[] = [];
    for (const k of keys) {
      const raw = await this.deps.storage.get(k);
      if (!raw) continue;
      try {
        entries.push(JSON.parse(raw) as OutboxEntry);
      } catch {
        await this.deps.storage.remove(k);
      }
    }
    entries.sort((a, b) => a.n - b.n);
    for (const e of entries) this.slots.push(this.slot(e));
    for (const e of entries) this.counter = Math.max(this.counter, e.n);
    this.pump();
  }

  /** Resolves once the stored entries have been loaded. */
  loaded(): Promise<void> {
    return this.ready;
  }

  private slot(entry: OutboxEntry): Slot {
    return { entry, state: 'queued', backoff: new Backoff(this.deps.retry), timer: null, waiters: [] };
  }

  private persist(op: (s: Storage) => Promise<void>): void {
    this.io = this.io.then(() => op(this.deps.storage)).catch((err: unknown) => this.deps.error(err));
  }

  /**
   * Queue a message; resolves with the server's `seq` and `ts` (the "sent" tick). Once the stored
   * entries are loaded, the entry is in `pending()` as soon as this returns.
   */
  add(conv: ConversationId, body: string, kind?: string): Promise<SendResult> {
    if (this.closed) return Promise.reject(new ClosedError());
    if (!this.isLoaded) return this.ready.then(() => this.add(conv, body, kind));
    const entry: OutboxEntry = { cmid: newClientMessageId(), conv, body, createdAt: Date.now(), n: ++this.counter };
    if (kind !== undefined) entry.kind = kind;
    const slot = this.slot(entry);
    const done = new Promise<SendResult>((resolve, reject) => slot.waiters.push({ resolve, reject }));
    this.slots.push(slot);
    this.persist((s) => s.set(PREFIX + entry.cmid, JSON.stringify(entry)));
    this.pump();
    return done;
  }

  /** Entries not yet confirmed by the server, oldest first. */
  pending(): OutboxEntry[] {
    return this.slots.map((s) => s.entry);
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) this.pump();
  }

  private pump(): void {
    if (!this.online || this.closed) return;
    let inflight = this.slots.filter((s) => s.state === 'inflight').length;
    for (const slot of this.slots) {
      if (inflight >= this.deps.window || slot.state === 'waiting') break;
      if (slot.state !== 'queued') continue;
      inflight++;
      this.transmit(slot);
    }
  }

  private transmit(slot: Slot): void {
    slot.state = 'inflight';
    this.deps.transmit(slot.entry).then(
      (res) => this.done(slot, res),
      (err: unknown) => this.retryOrFail(slot, err),
    );
  }

  private remove(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (slot.timer) clearTimeout(slot.timer);
    this.persist((s) => s.remove(PREFIX + slot.entry.cmid));
  }

  private done(slot: Slot, res: SendResult): void {
    if (!this.slots.includes(slot)) return;
    this.remove(slot);
    for (const w of slot.waiters) w.resolve(res);
    this.deps.sent(slot.entry, res);
    this.pump();
  }

  private retryOrFail(slot: Slot, err: unknown): void {
    if (!this.slots.includes(slot) || this.closed) return;
    if (err instanceof DisconnectedError || err instanceof ClosedError) {
      // The link is gone; the next one sends it again, in order.
      slot.state = 'queued';
      this.pump();
      return;
    }
    const e = err instanceof ParleyError ? err : new ParleyError('INTERNAL', String(err));
    if (e.temporary || isAuthCode(e.code)) {
      slot.state = 'waiting';
      slot.timer = setTimeout(() => {
        slot.timer = null;
        slot.state = 'queued';
        this.pump();
      }, slot.backoff.next());
      return;
    }
    this.remove(slot);
    for (const w of slot.waiters) w.reject(e);
    this.deps.failed(slot.entry, e);
    this.pump();
  }

  /** Stop sending. Entries stay in storage; the promises of this session reject with ClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      for (const w of slot.waiters) w.reject(new ClosedError());
    }
    this.slots = [];
    await this.io;
  }
}
