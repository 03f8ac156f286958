/**
 * Messages and receipts: sends go through a group-commit batcher (one store transaction per batch)
 * and are acknowledged only after that commit; acks and reads are batched the same way.
 */
import { ParleyError, type ConversationId, type Cursor, type CursorEvent, type DeviceId, type Message, type Results, type Seq, type UserId } from '@parley/protocol';
import type { Principal } from '../auth/tokens.ts';
import type { AckRequest, AppendOutcome, NewMessage, ReadRequest, Store } from '../store/Store.ts';
import { Batcher } from '../util/Batcher.ts';
import type { Delivery } from './Delivery.ts';

export interface MessagingOptions {
  maxBodyLength: number;
  maxBatch: number;
  batchDelayMs: number;
  /** Acks wait this long for company (they are cumulative and may be lost; see NodeOptions). */
  ackDelayMs: number;
  maxHistoryPage: number;
  syncPageSize: number;
}

/** Acks per store call, as a multiple of `maxBatch` (messages per call). */
const ACK_BATCH_FACTOR = 2;

const NOTHING: Promise<undefined> = Promise.resolve(undefined);

/** The store said it is unavailable: queued writes fail at once rather than one timeout each. */
const storeDown = (err: unknown) => err instanceof ParleyError && err.code === 'UNAVAILABLE';

export class Messaging {
  private readonly sends: Batcher<NewMessage, AppendOutcome>;
  private readonly acks: Batcher<AckRequest, undefined>;
  /**
   * Acks queued and not yet handed to the store, one per device: a device's later ack raises the
   * queued cursor instead of queueing another (acks are cumulative), so a device acking every
   * 50 ms costs one row update per batch however many acks the wait collected.
   */
  private readonly queuedAcks = new Map<DeviceId, { req: AckRequest; done: Promise<undefined> }>();
  private readonly reads: Batcher<ReadRequest, undefined>;

  constructor(
    private readonly store: Store,
    private readonly delivery: Delivery,
    private readonly opts: MessagingOptions,
  ) {
    this.sends = new Batcher(
      async (batch) => {
        const res = await this.store.appendMessages(batch);
        void this.delivery.appended(res.appended);
        return res.outcomes;
      },
      opts.maxBatch,
      opts.batchDelayMs,
      storeDown,
    );
    this.acks = new Batcher(
      async (batch) => {
        // From here on this batch's requests are the store's: later acks queue anew.
        for (const a of batch) if (this.queuedAcks.get(a.device)?.req === a) this.queuedAcks.delete(a.device);
        const appended = await this.store.applyAcks(batch);
        void this.delivery.appended(appended);
        return batch.map(() => undefined);
      },
      // An ack is a few bytes and about three row updates: 1,024 of them are a transaction of a few
      // milliseconds on the event loop, so a message that arrives meanwhile waits that long at most
      // (4,096 at a time made a 1,024-member group's p99 ~10 ms worse); a 10,000-member group's acks
      // for one message go in ten transactions (one settle of the receipts each).
      opts.maxBatch * ACK_BATCH_FACTOR,
      opts.ackDelayMs,
      storeDown,
    );
    this.reads = new Batcher(
      async (batch) => {
        const appended = await this.store.applyReads(batch);
        void this.delivery.appended(appended);
        return batch.map(() => undefined);
      },
      opts.maxBatch,
      opts.batchDelayMs,
      storeDown,
    );
  }

  async send(p: Principal, conv: ConversationId, cmid: string, body: string, kind = 'text'): Promise<Results['send']> {
    if (body.length > this.opts.maxBodyLength) throw new ParleyError('TOO_LARGE', `body longer than ${this.opts.maxBodyLength}`);
    const outcome = await this.sends.submit({ conv, from: p.user, cmid, kind, body, ts: Date.now() });
    if (!outcome.ok) throw new ParleyError(outcome.code);
    return { conv, cmid, seq: outcome.seq, ts: outcome.ts, duplicate: outcome.duplicate };
  }

  /**
   * Cumulative ack from one device; the caller clamps it to what the device was actually sent.
   * Resolves once stored. Acks of a device that arrive while its request is queued raise that
   * request's cursor and get the same promise: callers may compare it to tell a new request.
   */
  ack(p: Principal, cursor: Cursor): Promise<undefined> {
    if (cursor <= 0) return NOTHING;
    const queued = this.queuedAcks.get(p.device);
    if (queued && queued.req.user === p.user) {
      if (cursor > queued.req.cursor) queued.req.cursor = cursor;
      return queued.done;
    }
    const req: AckRequest = { user: p.user, device: p.device, cursor };
    const done = this.acks.submit(req);
    this.queuedAcks.set(p.device, { req, done });
    // Rejected while still queued (the store went down under an earlier batch): the device's next
    // ack must queue anew, not join a request that will never be stored.
    done.catch(() => {
      if (this.queuedAcks.get(p.device)?.req === req) this.queuedAcks.delete(p.device);
    });
    return done;
  }

  async read(p: Principal, conv: ConversationId, seq: Seq): Promise<void> {
    await this.reads.submit({ user: p.user, conv, seq });
  }

  async history(conv: ConversationId, page: { before?: Seq; after?: Seq; limit?: number }): Promise<{ messages: Message[]; more: boolean }> {
    const limit = Math.min(page.limit ?? 50, this.opts.maxHistoryPage);
    return this.store.history(conv, { ...page, limit });
  }

  async sync(user: UserId, after: Cursor, limit?: number): Promise<{ events: CursorEvent[]; head: Cursor }> {
    const [events, head] = await Promise.all([this.store.readLog(user, after, Math.min(limit ?? this.opts.syncPageSize, this.opts.syncPageSize)), this.store.head(user)]);
    return { events, head };
  }

  /** Wait until every queued write has been committed (used when draining). */
  async idle(): Promise<void> {
    await Promise.all([this.sends.idle(), this.acks.idle(), this.reads.idle()]);
  }
}
