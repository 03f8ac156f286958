/**
 * Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01),
 * both directions of the SFU:
 *
 * - `TwccResponder`, towards a publisher: records the arrival time of every packet carrying a
 *   transport-wide sequence number and builds the RTPFB (FMT 15) feedback the publisher's send-side
 *   estimator needs. Chromium sends its upper simulcast layers only once that estimate allows, so
 *   this feedback must be right: every sequence number in range reported (lost ones as lost),
 *   arrival deltas in 250 µs units. (werift's own ReceiverTWCC reports missing packets as received
 *   and only sends when more than ten packets are pending; the Publisher replaces it with this.)
 * - `twccResults()`, from a subscriber: the per-packet results of a feedback, status vector chunks
 *   included (werift's `packetResults` reads run-length chunks only), for the BandwidthEstimator.
 *
 * Pure apart from the clock passed in; serialization is plain bytes.
 */
import type { FeedbackResult } from './BandwidthEstimator.ts';

const u16 = (n: number) => n & 0xffff;
/** a - b in 16-bit sequence space. */
const diff16 = (a: number, b: number) => ((((a - b) & 0xffff) + 0x8000) & 0xffff) - 0x8000;

export class TwccResponder {
  /** Arrival times (µs) by unwrapped sequence number, not yet reported. */
  private readonly arrivals = new Map<number, number>();
  /** First sequence number of the next feedback (unwrapped); null before the first packet. */
  private next: number | null = null;
  private highest = 0;
  private fbCount = 0;

  /** One packet with transport-wide sequence number `seq` arrived at `atUs` (µs, monotonic). */
  received(seq: number, atUs: number): void {
    let s: number;
    if (this.next === null) {
      s = seq;
      this.next = s;
      this.highest = s;
    } else {
      s = this.highest + diff16(seq, u16(this.highest));
      if (s < this.next) return; // already reported as lost; too late
    }
    if (s > this.highest) this.highest = s;
    if (!this.arrivals.has(s)) this.arrivals.set(s, atUs);
  }

  get pending(): number {
    return this.arrivals.size;
  }

  /**
   * The feedback for everything since the last one, as one RTCP packet, or null when nothing
   * arrived. `senderSsrc`: the SFU's RTCP SSRC; `mediaSsrc`: one of the publisher's SSRCs.
   */
  build(senderSsrc: number, mediaSsrc: number): Buffer | null {
    if (this.next === null || this.arrivals.size === 0) return null;
    const base = this.next;
    // At most 0xffff statuses, and deltas that fit 16 bits; the rest waits for the next feedback.
    let last = Math.min(this.highest, base + 0xfffe);
    const firstArrival = this.firstArrival(base, last);
    const refTime = Math.floor(firstArrival / 64_000); // 64 ms units
    let prev = refTime * 64_000;
    const statuses: number[] = [];
    const deltas: number[] = [];
    for (let s = base; s <= last; s++) {
      const at = this.arrivals.get(s);
      if (at === undefined) {
        statuses.push(0);
        continue;
      }
      const d = Math.round((at - prev) / 250);
      if (d < -0x8000 || d > 0x7fff) {
        last = s - 1;
        break;
      }
      statuses.push(d >= 0 && d <= 0xff ? 1 : 2);
      deltas.push(d);
      prev = at;
    }
    for (let s = base; s <= last; s++) this.arrivals.delete(s);
    this.next = last + 1;
    if (deltas.length === 0) return null;
    return serialize(senderSsrc, mediaSsrc, u16(base), statuses, deltas, refTime, this.fbCount++ & 0xff);
  }

  private firstArrival(from: number, to: number): number {
    for (let s = from; s <= to; s++) {
      const at = this.arrivals.get(s);
      if (at !== undefined) return at;
    }
    return 0;
  }
}

function serialize(senderSsrc: number, mediaSsrc: number, base: number, statuses: number[], deltas: number[], refTime: number, fbCount: number): Buffer {
  // Status vector chunks with 2-bit symbols, 7 statuses each.
  const chunks: number[] = [];
  for (let i = 0; i < statuses.length; i += 7) {
    let c = 0xc000;
    for (let j = 0; j < 7; j++) c |= (statuses[i + j] ?? 0) << (12 - 2 * j);
    chunks.push(c);
  }
  let deltaBytes = 0;
  for (const d of deltas) deltaBytes += d >= 0 && d <= 0xff ? 1 : 2;
  const body = 8 + 8 + chunks.length * 2 + deltaBytes;
  const unpadded = 4 + body;
  const pad = (4 - (unpadded % 4)) % 4;
  const buf = Buffer.alloc(unpadded + pad);
  buf[0] = 0x80 | (pad > 0 ? 0x20 : 0) | 15;
  buf[1] = 205;
  buf.writeUInt16BE(buf.length / 4 - 1, 2);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(mediaSsrc >>> 0, 8);
  buf.writeUInt16BE(base, 12);
  buf.writeUInt16BE(statuses.length, 14);
  buf.writeUIntBE(refTime & 0xffffff, 16, 3);
  buf[19] = fbCount;
  let o = 20;
  for (const c of chunks) o = buf.writeUInt16BE(c, o);
  for (const d of deltas) o = d >= 0 && d <= 0xff ? buf.writeUInt8(d, o) : buf.writeInt16BE(d, o);
  if (pad > 0) buf[buf.length - 1] = pad;
  return buf;
}

/** The fields of werift's TransportWideCC that `twccResults` reads. */
export interface TwccFeedback {
  baseSequenceNumber: number;
  packetStatusCount: number;
  referenceTime: number;
  packetChunks: readonly ({ type: number; packetStatus?: number; runLength?: number; symbolSize?: number; symbolList?: number[] } | object)[];
  recvDeltas: readonly { delta: number }[];
}

/** Per-packet results of a parsed feedback (arrival times in ms on the receiver's clock). */
export function twccResults(fb: TwccFeedback): FeedbackResult[] {
  const statuses: number[] = [];
  for (const chunk of fb.packetChunks as { type: number; packetStatus?: number; runLength?: number; symbolSize?: number; symbolList?: number[] }[]) {
    if (chunk.type === 0) for (let i = 0; i < (chunk.runLength ?? 0); i++) statuses.push(chunk.packetStatus ?? 0);
    else for (const sym of chunk.symbolList ?? []) statuses.push(chunk.symbolSize === 0 ? sym & 1 : sym);
  }
  statuses.length = Math.min(statuses.length, fb.packetStatusCount);
  const out: FeedbackResult[] = [];
  let at = fb.referenceTime * 64;
  let di = 0;
  for (let i = 0; i < statuses.length; i++) {
    const st = statuses[i]!;
    const seq = u16(fb.baseSequenceNumber + i);
    if (st === 1 || st === 2) {
      const d = fb.recvDeltas[di++];
      if (!d) break;
      at += d.delta / 1000;
      out.push({ sequenceNumber: seq, received: true, receivedAtMs: at });
    } else out.push({ sequenceNumber: seq, received: false, receivedAtMs: 0 });
  }
  return out;
}
