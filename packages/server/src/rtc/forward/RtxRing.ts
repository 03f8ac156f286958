/**
 * The last `size` packets one DownTrack sent, by output sequence number, for retransmission when
 * the subscriber NACKs them. It keeps references to the payload buffers (shared with every other
 * subscriber of the same publisher packet; nothing is copied) and the header fields the sender
 * rewrote; a slot is overwritten by the packet `size` sequence numbers later.
 *
 * A packet is resent at most once per `minResendMs` (a NACK repeated before the retransmission
 * could have arrived is not answered twice).
 */

export interface RtxEntry {
  seq: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
}

export class RtxRing {
  private readonly mask: number;
  private readonly seqs: Int32Array;
  private readonly timestamps: Float64Array;
  private readonly markers: Uint8Array;
  private readonly resentAt: Float64Array;
  private readonly payloads: (Buffer | undefined)[];

  constructor(
    size = 512,
    private readonly minResendMs = 10,
  ) {
    if (!Number.isInteger(Math.log2(size))) throw new RangeError('RtxRing size must be a power of two');
    this.mask = size - 1;
    this.seqs = new Int32Array(size).fill(-1);
    this.timestamps = new Float64Array(size);
    this.markers = new Uint8Array(size);
    this.resentAt = new Float64Array(size);
    this.payloads = new Array<Buffer | undefined>(size);
  }

  put(seq: number, timestamp: number, marker: boolean, payload: Buffer): void {
    const i = seq & this.mask;
    this.seqs[i] = seq;
    this.timestamps[i] = timestamp;
    this.markers[i] = marker ? 1 : 0;
    this.resentAt[i] = -Infinity;
    this.payloads[i] = payload;
  }

  /** The packet sent as `seq`, if still held and not resent within `minResendMs` of `now`; marks it resent. */
  take(seq: number, now: number): RtxEntry | null {
    const i = seq & this.mask;
    if (this.seqs[i] !== seq) return null;
    if (now - this.resentAt[i]! < this.minResendMs) return null;
    this.resentAt[i] = now;
    return { seq, timestamp: this.timestamps[i]!, marker: this.markers[i] === 1, payload: this.payloads[i]! };
  }

  clear(): void {
    this.seqs.fill(-1);
    this.payloads.fill(undefined);
  }
}
