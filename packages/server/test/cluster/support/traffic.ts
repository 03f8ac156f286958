/**
 * Steady traffic through the SDK and an exact account of it. Each party is an SDK client (WebSocket,
 * through the test's front door); it sends on a timer into its conversations, and the SDK's outbox
 * retries unanswered sends with the same cmid across reconnects. `settle()` waits for every send to
 * be acknowledged and every member to have every message, then `count()` compares, per
 * conversation and member, what was acknowledged to what was received:
 *
 * - lost: an acknowledged message some member never received;
 * - duplicated: a message a member received twice, or a send stored twice (two seqs, one cmid);
 * - reordered: a member received seqs out of order, or one sender's messages got seqs out of the
 *   order it sent them in.
 */
import { connect, type Client, type ClientOptions, type Message, type SendResult } from '../../../../client/src/index.ts';
import type { Tokens } from '@parley/protocol';
import { until } from './ports.ts';

export interface Party {
  name: string;
  tokens: Tokens;
  client: Client;
  /** Node id of each link this client opened, in order. */
  nodes: string[];
  /** Every `message` event, in arrival order. */
  received: Message[];
}

export interface Counts {
  sent: number;
  acked: number;
  stored: number;
  expectedDeliveries: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  reconnects: number;
}

interface Sent {
  conv: string;
  from: string;
  body: string;
  /** Position in the sender's sequence for this conversation. */
  n: number;
  result: SendResult | null;
  error: Error | null;
}

export const sdkOptions = (url: string): Omit<ClientOptions, 'token'> => ({
  url,
  transport: 'websocket',
  backoff: { initialMs: 50, maxMs: 400 },
  retry: { initialMs: 100, maxMs: 500 },
  welcomeTimeoutMs: 4000,
  requestTimeoutMs: 4000,
  ackDelayMs: 20,
});

export function openParty(name: string, tokens: Tokens, url: string): Party {
  const client = connect({ ...sdkOptions(url), token: tokens.access });
  const party: Party = { name, tokens, client, nodes: [], received: [] };
  client.on('connected', (e) => party.nodes.push(e.welcome.node));
  client.on('message', (m) => party.received.push(m));
  client.on('error', () => {});
  return party;
}

export class Traffic {
  private readonly sent: Sent[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private turn = 0;

  /** `routes`: which conversations each party writes to (and who the members of each are). */
  constructor(
    private readonly parties: Party[],
    private readonly convs: { id: string; members: Party[] }[],
  ) {}

  /** Every `everyMs`, each party sends one message, to its conversations in turn. */
  start(everyMs: number): void {
    this.timer = setInterval(() => this.tick(), everyMs);
  }

  private tick(): void {
    const t = this.turn++;
    for (const p of this.parties) {
      const mine = this.convs.filter((c) => c.members.includes(p));
      const conv = mine[t % mine.length];
      if (conv) this.send(p, conv.id);
    }
  }

  send(p: Party, conv: string): void {
    const n = this.sent.filter((s) => s.conv === conv && s.from === p.tokens.user).length;
    const s: Sent = { conv, from: p.tokens.user, body: `${p.name}:${n}`, n, result: null, error: null };
    this.sent.push(s);
    const done = p.client.send(conv, s.body).then(
      (r) => void (s.result = r),
      (err: unknown) => void (s.error = err as Error),
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get sentCount(): number {
    return this.sent.length;
  }

  /** Waits for every send to be answered and every member to hold every acknowledged message. */
  async settle(timeoutMs: number): Promise<void> {
    this.stop();
    await until(() => this.pending.size === 0, timeoutMs, `answers to all ${this.sent.length} sends (${this.pending.size} outstanding)`);
    await until(() => this.missing() === 0, timeoutMs, 'every member to receive every message').catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(this.count())}`);
    });
  }

  private missing(): number {
    let missing = 0;
    for (const c of this.convs) {
      const want = new Set(this.sent.filter((s) => s.conv === c.id && s.result).map((s) => s.result!.seq));
      for (const m of c.members) {
        const got = new Set(m.received.filter((r) => r.conv === c.id).map((r) => r.seq));
        for (const seq of want) if (!got.has(seq)) missing++;
      }
    }
    return missing;
  }

  count(): Counts {
    const acked = this.sent.filter((s) => s.result);
    let expectedDeliveries = 0;
    let delivered = 0;
    let lost = 0;
    let duplicated = 0;
    let reordered = 0;
    for (const c of this.convs) {
      const mine = acked.filter((s) => s.conv === c.id);
      // Stored once: distinct seqs per (sender, body); a cmid stored twice would show two seqs.
      const seqs = new Set(mine.map((s) => s.result!.seq));
      duplicated += mine.length - seqs.size;
      for (const m of c.members) {
        const got = m.received.filter((r) => r.conv === c.id);
        const gotSeqs = got.map((r) => r.seq);
        expectedDeliveries += seqs.size;
        delivered += gotSeqs.length;
        duplicated += gotSeqs.length - new Set(gotSeqs).size;
        for (const seq of seqs) if (!gotSeqs.includes(seq)) lost++;
        for (let i = 1; i < gotSeqs.length; i++) if (gotSeqs[i]! <= gotSeqs[i - 1]!) reordered++;
      }
      // A sender's messages keep its order.
      for (const p of c.members) {
        const own = mine.filter((s) => s.from === p.tokens.user).sort((a, b) => a.n - b.n);
        for (let i = 1; i < own.length; i++) if (own[i]!.result!.seq <= own[i - 1]!.result!.seq) reordered++;
      }
    }
    const stored = new Set(acked.map((s) => `${s.conv}/${s.result!.seq}`)).size;
    const reconnects = this.parties.reduce((n, p) => n + Math.max(0, p.nodes.length - 1), 0);
    return { sent: this.sent.length, acked: acked.length, stored, expectedDeliveries, delivered, lost, duplicated, reordered, reconnects };
  }

  /** Sends that failed for good (a permanent error), with their errors. */
  failures(): string[] {
    return this.sent.filter((s) => s.error).map((s) => `${s.body}: ${s.error!.message}`);
  }
}

/** Human-readable counts for t.diagnostic. */
export function describeCounts(label: string, c: Counts): string {
  return (
    `${label}: sent ${c.sent}, acked ${c.acked}, stored ${c.stored}, deliveries ${c.delivered}/${c.expectedDeliveries}, ` +
    `lost ${c.lost}, duplicated ${c.duplicated}, reordered ${c.reordered}, reconnects ${c.reconnects}`
  );
}
