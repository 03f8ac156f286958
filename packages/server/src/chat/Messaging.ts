/**
 * Messages and receipts: sends go through a group-commit batcher (one store transaction per batch)
 * and are acknowledged only after that commit; acks and reads are batched the same way.
 */
import { ParleyError, type ConversationId, type Cursor, type CursorEvent, type Message, type Results, type Seq, type UserId } from '@parley/protocol';
import type { Principal } from '../auth/tokens.ts';
import type { AckRequest, AppendOutcome, NewMessage, ReadRequest, Store } from '../store/Store.ts';
import { Batcher } from '../util/Batcher.ts';
import type { Delivery } from './Delivery.ts';

export interface MessagingOptions {
  maxBodyLength: number;
  maxBatch: number;
  batchDelayMs: number;
  maxHistoryPage: number;
  syncPageSize: number;
}

/** The store said it is unavailable: queued writes fail at once rather than one timeout each. */
const storeDown = (err: unknown) => err instanceof ParleyError && err.code === 'UNAVAILABLE';

export class Messaging {
  private readonly sends: Batcher<NewMessage, AppendOutcome>;
  private readonly acks: Batcher<AckRequest, undefined>;
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
        const appended = await this.store.applyAcks(batch);
        void this.delivery.appended(appended);
        return batch.map(() => undefined);
      },
      opts.maxBatch,
      opts.batchDelayMs,
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

  /** Cumulative ack from one device; the caller clamps it to what the device was actually sent. */
  async ack(p: Principal, cursor: Cursor): Promise<void> {
    if (cursor <= 0) return;
    await this.acks.submit({ user: p.user, device: p.device, cursor });
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
