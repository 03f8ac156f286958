/**
 * The SFU's estimate of the bandwidth towards one subscriber (its subscribing pc), fed by the
 * subscriber's congestion feedback. Pure: no timers; every input carries its time.
 *
 * Inputs, shaped after what werift gives:
 * - `packetSent({wideSeq, size, sentAtMs})`: werift's `SentInfo` (RTCRtpSender stamps each packet
 *   with the transport-wide sequence number when the transport-cc header extension is negotiated).
 * - `feedback(results)`: `TransportWideCC.packetResults` (`{sequenceNumber, received,
 *   receivedAtMs}`) of a transport-cc RTCP feedback from the subscriber.
 * - `remb(bps)`: a REMB's bitrate (`ReceiverEstimatedMaxBitrate.bitrate`, a bigint in werift) when
 *   the subscriber estimates itself.
 *
 * Algorithm (a small GCC-like controller, not a full one):
 * - Delay: the one-way delay of each acked packet minus the smallest seen in the last
 *   `baseWindowMs` is the queueing delay. Queueing above `overuseMs` that keeps growing across a
 *   feedback means the path is over-used: the estimate drops to `backoff` × the acked rate. Not
 *   while application-limited (acked rate under half the estimate): the SFU has no probing, so a
 *   subscriber on the small layer must keep an estimate that lets it move up.
 * - Loss: over 10 % lost in a feedback multiplies the estimate by (1 − loss / 2).
 * - Otherwise it grows: 8 % per second far from the last overuse point, additively (+`probeBps`
 *   per second) near it (within ±10 %), so it settles below a known ceiling instead of oscillating;
 *   past it (the ceiling lifted), multiplicatively again.
 * - REMB, when present, caps the estimate.
 */

export interface SentPacket {
  wideSeq: number;
  /** bytes on the wire */
  size: number;
  sentAtMs: number;
}

export interface FeedbackResult {
  sequenceNumber: number;
  received: boolean;
  receivedAtMs: number;
}

export interface BandwidthEstimatorOptions {
  initialBps: number;
  minBps: number;
  maxBps: number;
  /** Queueing delay over this (ms), and growing, is over-use. Default 20. */
  overuseMs: number;
  /** The estimate after over-use, as a fraction of the acked rate. Default 0.85. */
  backoff: number;
  /** Additive growth near the last over-use point, bit/s per second. Default 50000. */
  probeBps: number;
  /** Window of the base (minimum) one-way delay (ms). Default 10000. */
  baseWindowMs: number;
}

export const defaultEstimatorOptions: BandwidthEstimatorOptions = {
  initialBps: 1_000_000,
  minBps: 50_000,
  maxBps: 50_000_000,
  overuseMs: 20,
  backoff: 0.85,
  probeBps: 50_000,
  baseWindowMs: 10_000,
};

const HISTORY = 1 << 16;

export class BandwidthEstimator {
  private readonly o: BandwidthEstimatorOptions;
  private readonly sentSize = new Int32Array(HISTORY).fill(-1);
  private readonly sentAt = new Float64Array(HISTORY);
  private twccBps: number;
  private rembBps = Infinity;
  private lastUpdateAt: number | null = null;
  private lastOveruseBps = 0;
  private lastQueueMs = 0;
  /** (time, delay) pairs, oldest first, for the windowed minimum one-way delay. */
  private baseDelays: { at: number; d: number }[] = [];
  /** Acked bytes with their receive time, for the acked rate over the last second. */
  private readonly acked = new AckWindow();
  /** Last computed figures, for stats and tests. */
  lastLoss = 0;
  lastQueueingMs = 0;
  overuses = 0;

  constructor(options: Partial<BandwidthEstimatorOptions> = {}) {
    this.o = { ...defaultEstimatorOptions, ...options };
    this.twccBps = this.o.initialBps;
  }

  /** Bit/s available towards the subscriber. */
  get estimate(): number {
    return Math.max(this.o.minBps, Math.min(this.twccBps, this.rembBps, this.o.maxBps));
  }

  packetSent(p: SentPacket): void {
    this.sent(p.wideSeq, p.size, p.sentAtMs);
  }

  /** `packetSent` without the object (the forwarding path calls it for every copy). */
  sent(wideSeq: number, size: number, sentAtMs: number): void {
    const i = wideSeq & 0xffff;
    this.sentSize[i] = size;
    this.sentAt[i] = sentAtMs;
  }

  remb(bps: number | bigint): void {
    const v = Number(bps);
    if (Number.isFinite(v) && v > 0) this.rembBps = v;
  }

  /** The acked rate over the last second, bit/s. */
  ackedRate(now: number): number {
    const w = this.acked;
    w.dropBefore(now - 1000);
    if (w.size === 0) return 0;
    const span = Math.max(100, now - w.oldestAt());
    return (w.bytes * 8 * 1000) / span;
  }

  feedback(results: readonly FeedbackResult[], now: number): void {
    let lost = 0;
    let known = 0;
    let maxQueue = -Infinity;
    for (const r of results) {
      const i = r.sequenceNumber & 0xffff;
      const size = this.sentSize[i]!;
      if (size < 0) continue; // not ours, or too old
      known += 1;
      if (!r.received) {
        lost += 1;
        continue;
      }
      this.sentSize[i] = -1;
      const d = r.receivedAtMs - this.sentAt[i]!;
      this.acked.push(now, size);
      const q = d - this.baseDelay(now, d);
      if (q > maxQueue) maxQueue = q;
    }
    if (known === 0) return;
    const dt = this.lastUpdateAt === null ? 0 : Math.max(0, now - this.lastUpdateAt) / 1000;
    this.lastUpdateAt = now;
    const loss = lost / known;
    this.lastLoss = loss;
    const queue = Number.isFinite(maxQueue) ? maxQueue : this.lastQueueMs;
    this.lastQueueingMs = queue;
    const acked = this.ackedRate(now);
    // Application-limited: sending far below the estimate, a queue is not ours to back off from
    // (cross traffic, a busy receiver); loss still counts.
    const appLimited = acked < this.twccBps * 0.5;
    const overuse = !appLimited && queue > this.o.overuseMs && queue >= this.lastQueueMs;
    this.lastQueueMs = queue;
    if (overuse) {
      this.overuses += 1;
      const next = Math.min(this.twccBps, Math.max(acked, this.o.minBps) * this.o.backoff);
      this.lastOveruseBps = this.twccBps;
      this.twccBps = next;
    } else if (loss > 0.1) {
      this.lastOveruseBps = this.twccBps;
      this.twccBps *= 1 - loss / 2;
    } else if (loss < 0.02 && dt > 0) {
      const near = this.lastOveruseBps > 0 && this.twccBps > this.lastOveruseBps * 0.9 && this.twccBps < this.lastOveruseBps * 1.1;
      this.twccBps = near ? this.twccBps + this.o.probeBps * dt : this.twccBps * Math.pow(1.08, dt);
    }
    this.twccBps = Math.max(this.o.minBps, Math.min(this.twccBps, this.o.maxBps));
  }

  /** The minimum one-way delay over the window (clock offsets between the two ends cancel out). */
  private baseDelay(now: number, d: number): number {
    const w = this.baseDelays;
    while (w.length > 0 && w[w.length - 1]!.d >= d) w.pop();
    w.push({ at: now, d });
    while (w.length > 1 && now - w[0]!.at > this.o.baseWindowMs) w.shift();
    return w[0]!.d;
  }
}

/**
 * (time, bytes) pairs in arrival order, in two growable ring arrays with a running sum: one acked
 * packet per entry, thousands a second per subscriber, kept a second; objects in an array would
 * each live long enough to be promoted to the old generation and left for a major GC.
 */
class AckWindow {
  private at = new Float64Array(256);
  private len = new Float64Array(256);
  private head = 0;
  size = 0;
  bytes = 0;

  push(at: number, bytes: number): void {
    if (this.size === this.at.length) this.grow();
    const i = (this.head + this.size) % this.at.length;
    this.at[i] = at;
    this.len[i] = bytes;
    this.size += 1;
    this.bytes += bytes;
  }

  /** Drops entries with a time before `t` (strictly older, as `now - at > 1000`). */
  dropBefore(t: number): void {
    while (this.size > 0 && this.at[this.head]! < t) {
      this.bytes -= this.len[this.head]!;
      this.head = (this.head + 1) % this.at.length;
      this.size -= 1;
    }
    if (this.size === 0) this.bytes = 0;
  }

  oldestAt(): number {
    return this.at[this.head]!;
  }

  private grow(): void {
    const n = this.at.length;
    const at = new Float64Array(n * 2);
    const len = new Float64Array(n * 2);
    for (let k = 0; k < this.size; k++) {
      at[k] = this.at[(this.head + k) % n]!;
      len[k] = this.len[(this.head + k) % n]!;
    }
    this.at = at;
    this.len = len;
    this.head = 0;
  }
}
