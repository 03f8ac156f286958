/**
 * Per-subscriber rewriting of one forwarded stream's RTP header, so that the subscriber sees one
 * continuous stream whatever happens upstream: its own SSRC, sequence numbers without holes that the
 * SFU made, timestamps that keep advancing with wall time.
 *
 * - Loss upstream stays loss downstream (a gap in input sequence numbers is a gap in output), so the
 *   subscriber's NACK / jitter buffer logic keeps working.
 * - Packets the SFU drops on purpose (`skip`) leave no gap.
 * - A new source (another SSRC upstream: a simulcast layer switch, a publisher restart) or a
 *   `resync()` (after a mute, a pause) starts a new mapping: the next packet gets the next sequence
 *   number, and a timestamp advanced by the wall time elapsed since the last packet sent.
 * - Late packets (reordered, retransmitted) within `maxReorder` are mapped with the current offsets;
 *   packets from before the current mapping are dropped (`rewrite` returns null): their place in the
 *   output sequence is taken.
 *
 * Pure arithmetic, no I/O: unit-tested in test/rtc/rewriter.test.ts.
 */

export interface RtpHeaderIn {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
}

export interface RtpHeaderOut {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
}

export interface RtpRewriterOptions {
  /** The SSRC the subscriber sees. */
  ssrc: number;
  /** RTP clock rate of the stream (90000 for video, 48000 for Opus). */
  clockRate: number;
  /** First output sequence number; default random, as RFC 3550 asks. */
  initialSeq?: number;
  /** First output timestamp; default random. */
  initialTimestamp?: number;
  /** How far behind the highest input sequence a late packet may be and still be forwarded. Default 300. */
  maxReorder?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

const u16 = (n: number) => ((n % 0x10000) + 0x10000) % 0x10000;
const u32 = (n: number) => ((n % 0x1_0000_0000) + 0x1_0000_0000) % 0x1_0000_0000;
/** a - b in sequence space, in [-32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  const d = u16(a - b);
  return d >= 0x8000 ? d - 0x10000 : d;
}

export class RtpRewriter {
  readonly ssrc: number;
  private readonly clockRate: number;
  private readonly maxReorder: number;
  private readonly now: () => number;
  private started = false;
  private resyncPending = false;
  private source = 0;
  private highestIn = 0;
  /** First input sequence number of the current mapping; anything older is dropped. */
  private baseIn = 0;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastSeq: number;
  private lastTs: number;
  private lastAt = 0;
  /** The last `map`'s output sequence number and timestamp. */
  outSeq = 0;
  outTs = 0;
  /** Packets written and dropped, for stats and tests. */
  forwarded = 0;
  dropped = 0;

  constructor(opts: RtpRewriterOptions) {
    this.ssrc = opts.ssrc >>> 0;
    this.clockRate = opts.clockRate;
    this.maxReorder = opts.maxReorder ?? 300;
    this.now = opts.now ?? Date.now;
    // The "last" values before the first packet, so the first mapping lands on initialSeq/Timestamp.
    this.lastSeq = u16((opts.initialSeq ?? Math.floor(Math.random() * 0x10000)) - 1);
    this.lastTs = u32(opts.initialTimestamp ?? Math.floor(Math.random() * 0x1_0000_0000));
  }

  /** The header the subscriber gets for this packet, or null when the packet must not be sent. */
  rewrite(h: RtpHeaderIn): RtpHeaderOut | null {
    return this.map(h) ? { ssrc: this.ssrc, sequenceNumber: this.outSeq, timestamp: this.outTs } : null;
  }

  /**
   * `rewrite` without the result object (the forwarding path, once per copy): true when the
   * packet is forwarded, with its numbers in `outSeq` and `outTs` until the next call.
   */
  map(h: RtpHeaderIn): boolean {
    if (!this.started || this.resyncPending || h.ssrc !== this.source) return this.remap(h);
    const d = seqDiff(h.sequenceNumber, this.highestIn);
    if (d < -this.maxReorder) return this.remap(h); // far behind: the source restarted its sequence
    if (d <= 0) {
      if (seqDiff(h.sequenceNumber, this.baseIn) < 0) {
        this.dropped += 1;
        return false;
      }
      this.forwarded += 1;
      this.outSeq = u16(h.sequenceNumber + this.seqOffset);
      this.outTs = u32(h.timestamp + this.tsOffset);
      return true;
    }
    this.highestIn = h.sequenceNumber;
    this.lastSeq = u16(h.sequenceNumber + this.seqOffset);
    this.lastTs = u32(h.timestamp + this.tsOffset);
    this.lastAt = this.now();
    this.forwarded += 1;
    this.outSeq = this.lastSeq;
    this.outTs = this.lastTs;
    return true;
  }

  /** The SFU drops this packet on purpose (it is never sent): the output sequence closes over it. */
  skip(h: RtpHeaderIn): void {
    this.dropped += 1;
    if (!this.started || this.resyncPending || h.ssrc !== this.source) return;
    if (seqDiff(h.sequenceNumber, this.highestIn) <= 0) return;
    const advance = seqDiff(h.sequenceNumber, this.highestIn);
    // Packets lost between highestIn and this one stay a gap; this one takes no number.
    this.seqOffset = u16(this.seqOffset - 1);
    this.highestIn = h.sequenceNumber;
    this.baseIn = u16(h.sequenceNumber + 1);
    if (advance > 1) this.lastSeq = u16(this.lastSeq + advance - 1);
  }

  /** Start a new mapping with the next packet (after a pause, a mute, a layer switch). */
  resync(): void {
    this.resyncPending = true;
  }

  private remap(h: RtpHeaderIn): boolean {
    const seq = u16(this.lastSeq + 1);
    let ts: number;
    if (!this.started) ts = this.lastTs;
    else {
      const elapsed = Math.max(0, this.now() - this.lastAt);
      ts = u32(this.lastTs + Math.max(1, Math.round((elapsed * this.clockRate) / 1000)));
    }
    this.seqOffset = u16(seq - h.sequenceNumber);
    this.tsOffset = u32(ts - h.timestamp);
    this.source = h.ssrc;
    this.highestIn = h.sequenceNumber;
    this.baseIn = h.sequenceNumber;
    this.started = true;
    this.resyncPending = false;
    this.lastSeq = seq;
    this.lastTs = ts;
    this.lastAt = this.now();
    this.forwarded += 1;
    this.outSeq = seq;
    this.outTs = ts;
    return true;
  }
}
