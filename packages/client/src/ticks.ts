/**
 * Message ticks from receipt watermarks. The server keeps, per conversation, the all-members
 * minimum of `delivered` and `read` (each member's watermark: "has every message up to seq"), and
 * tells senders when it advances (`receipt` events); `conv.list` carries it too. A message's tick
 * is then a comparison, not per-message state:
 *
 *   no seq yet (still in the outbox)  -> 'pending'
 *   seq > delivered                   -> 'sent'       (the server committed it)
 *   read < seq <= delivered           -> 'delivered'  (every member's device has it)
 *   seq <= read                       -> 'read'       (every member has read it)
 */
import type { Conversation, ConversationId, Seq } from '@parley/protocol';

export type Tick = 'pending' | 'sent' | 'delivered' | 'read';

const RANK: Record<Tick, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/** True when tick `a` is `b` or later ('pending' < 'sent' < 'delivered' < 'read'). */
export function tickAtLeast(a: Tick, b: Tick): boolean {
  return RANK[a] >= RANK[b];
}

export interface ConversationWatermarks {
  delivered: Seq;
  read: Seq;
}

export function tickState(message: { seq?: Seq | null }, watermarks: ConversationWatermarks | undefined | null): Tick {
  const seq = message.seq;
  if (seq === undefined || seq === null || seq <= 0) return 'pending';
  if (!watermarks) return 'sent';
  if (seq <= watermarks.read) return 'read';
  if (seq <= watermarks.delivered) return 'delivered';
  return 'sent';
}

/** Per-conversation all-members watermarks, only ever moving forward. */
export class Watermarks {
  private readonly map = new Map<ConversationId, ConversationWatermarks>();

  get(conv: ConversationId): ConversationWatermarks | undefined {
    const w = this.map.get(conv);
    return w ? { ...w } : undefined;
  }

  /** Merge; true when either watermark advanced. */
  update(conv: ConversationId, delivered: Seq, read: Seq): boolean {
    const w = this.map.get(conv);
    if (!w) {
      this.map.set(conv, { delivered: Math.max(delivered, read), read });
      return true;
    }
    const d = Math.max(w.delivered, delivered, read);
    const r = Math.max(w.read, read);
    if (d === w.delivered && r === w.read) return false;
    w.delivered = d;
    w.read = r;
    return true;
  }

  fromConversation(c: Conversation): boolean {
    return this.update(c.id, c.delivered, c.read);
  }

  forget(conv: ConversationId): void {
    this.map.delete(conv);
  }
}
