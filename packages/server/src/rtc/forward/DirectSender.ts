/**
 * The forwarding fast path for one DownTrack: writes a forwarded packet straight from the
 * publisher's payload to the subscriber's socket, beside werift's RTCRtpSender instead of through
 * `sendRtp`. werift's path cost ~20 % of the SFU's busy time per forwarded copy on top of the
 * cipher (it clones the packet, maps and sorts the header extensions, takes a BigInt NTP time, and
 * awaits four nested promises; see docs/benchmarks.md, "## SFU"). Here, per packet: one header
 * written into a reusable buffer from a template, one SRTP encryption (SrtpEncryptor, with the
 * keys werift derived, into memory reused once the kernel has the datagram), one datagram on the
 * ICE pair werift nominated (UdpOut: the socket's handle, not `socket.send`).
 *
 * What it keeps of the sender's job, and how:
 * - Header extensions as werift writes them: mid, a transport-wide sequence number (from the DTLS
 *   transport's shared counter, so werift's and ours never collide) and abs-send-time, each only
 *   when negotiated; the payload type of the negotiated codec.
 * - NACK: werift still parses the subscriber's RTCP and calls `onGenericNack`; its own packet
 *   cache is empty, so the retransmission is ours, from an RtxRing, as RTX when negotiated.
 * - Sender reports: with `reports` (the pc's SenderReports), one compound packet per pc and
 *   interval carries this sender's SR with its CNAME; without, werift's RTCP loop for this sender
 *   sends them. Either way the NTP/RTP timestamp pair and the counters come from what this class
 *   records per packet (two numbers; werift reads them through getters installed on the sender),
 *   instead of a BigInt per packet.
 * - Bandwidth estimation: `onSent(wideSeq, bytes, atMs)` for every packet that carries a
 *   transport-wide sequence number (the Subscriber's BandwidthEstimator).
 *
 * werift internals it relies on (version 0.25): the sender's `codec`, `headerExtensions`, `mid`,
 * `rtxPayloadType`, `stopped`, `runRtcp` and counters; the DTLS transport's `state`, `srtp`
 * (`localContext` session keys) and `transportSequenceNumber`; the ICE connection's `nominated`
 * pair and `canSendApplicationData`. test/rtc/direct-sender.test.ts runs it between two werift
 * peer connections, so an upgrade that moves them fails there.
 */
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { RTP_EXTENSION_URI, type GenericNack, type RTCRtpSender } from 'werift';
import { RtxRing } from './RtxRing.ts';
import type { Reporting, SenderReport, SenderReports } from './SenderReports.ts';
import { SrtpEncryptor, SrtpIndex } from './SrtpEncryptor.ts';
import { sendDatagram } from './UdpOut.ts';

interface SrtpContextLike {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  srtpSessionAuthTag: Buffer;
  profile: number;
}
interface PairLike {
  protocol: { type?: string; transport?: { closed?: boolean; socket?: Socket }; sendData(b: Buffer, a: unknown): Promise<void> };
  remoteAddr: readonly [string, number];
  packetsSent: number;
  bytesSent: number;
}
interface IceLike {
  nominated?: PairLike;
  canSendApplicationData(): boolean;
  send(b: Buffer): Promise<void>;
}
interface DtlsLike {
  state: string;
  srtp?: { localContext: SrtpContextLike };
  transportSequenceNumber: number;
  iceTransport: { connection: IceLike };
  bytesSent: number;
  packetsSent: number;
  sendRtcp(packets: { serialize(): Buffer }[]): Promise<unknown>;
}
interface SenderLike {
  ssrc: number;
  rtxSsrc: number;
  stopped: boolean;
  codec?: { payloadType: number };
  headerExtensions: { id: number; uri: string }[];
  mid?: string;
  rtxPayloadType?: number;
  dtlsTransport?: DtlsLike;
  runRtcp(): Promise<void>;
  cname?: string;
  /** What werift's RTT computation compares receiver reports with. */
  lastSRtimestamp?: number;
  lastSentSRTimestamp?: number;
}

export interface DirectSenderOptions {
  /** Each packet sent with a transport-wide sequence number: its number, its bytes on the wire, performance.now(). */
  onSent?: (wideSeq: number, bytes: number, atMs: number) => void;
  /** Packets kept for NACK. Default 512. */
  history?: number;
  /** The pc's shared sender reports; without, werift's own report loop for this sender. */
  reports?: SenderReports;
}

/** 1900-01-01 to 1970-01-01 in seconds. */
const NTP_EPOCH = 2208988800;

/** The header-extension layout for the negotiated extensions. */
interface Template {
  /** Bytes 12… of the header (the extension block), twcc and abs-send-time left zero. */
  ext: Buffer;
  /** Offsets (from the header start) of the transport-wide sequence number and abs-send-time; -1 absent. */
  twccAt: number;
  absAt: number;
  exts: unknown;
  mid: string | undefined;
}

export class DirectSender implements Reporting {
  private readonly s: SenderLike;
  private readonly ring: RtxRing;
  private readonly index = new SrtpIndex();
  private readonly rtxIndex = new SrtpIndex();
  private readonly hdr = Buffer.alloc(12 + 4 + 64);
  private readonly onSent: DirectSenderOptions['onSent'];
  private readonly reports: SenderReports | undefined;
  private readonly offNack: () => void;
  private encryptor: SrtpEncryptor | null = null;
  private srtpOf: unknown = null;
  private template: Template | null = null;
  private rtxSeq = Math.floor(Math.random() * 0x10000);
  private rtcpStarted = false;
  /** The transport-wide sequence number of the header just written; -1: none. */
  private pendingWideSeq = -1;
  private closed = false;
  /** For sender reports: the last packet's RTP timestamp and when it went out (performance.now()). */
  private lastTimestamp = 0;
  private lastSentAt = 0;
  packets = 0;
  octets = 0;
  retransmitted = 0;

  constructor(sender: RTCRtpSender, opts: DirectSenderOptions = {}) {
    this.s = sender as unknown as SenderLike;
    this.ring = new RtxRing(opts.history ?? 512);
    this.onSent = opts.onSent;
    this.reports = opts.reports;
    this.offNack = sender.onGenericNack.subscribe((fb: GenericNack) => this.nack(fb.lost)).unSubscribe;
    // werift's RTCP loop reads these when it writes a sender report.
    Object.defineProperties(sender, {
      ntpTimestamp: { configurable: true, get: () => ntpOf(performance.timeOrigin + this.lastSentAt) },
      rtpTimestamp: { configurable: true, get: () => this.lastTimestamp },
      packetCount: { configurable: true, get: () => this.packets >>> 0 },
      octetCount: { configurable: true, get: () => this.octets >>> 0 },
    });
  }

  /** Forward one packet: `payload` as the publisher sent it, with this subscriber's numbers. */
  send(payload: Buffer, marker: boolean, seq: number, timestamp: number): void {
    const s = this.s;
    const dtls = s.dtlsTransport;
    if (this.closed || s.stopped || !dtls || dtls.state !== 'connected' || !s.codec) return;
    const now = performance.now();
    const hl = this.writeHeader(dtls, s.codec.payloadType, marker, seq, timestamp, s.ssrc, now);
    if (hl < 0) return;
    const enc = this.encryptor!.protect(this.hdr, hl, -1, payload, s.ssrc, this.index.rocFor(seq), seq);
    this.ring.put(seq, timestamp, marker, payload);
    this.lastTimestamp = timestamp;
    this.lastSentAt = now;
    this.packets += 1;
    this.octets += payload.length;
    this.transmit(dtls, enc, now);
    if (!this.rtcpStarted) {
      this.rtcpStarted = true;
      if (this.reports) this.reports.add(this);
      else void s.runRtcp().catch(() => {});
    }
  }

  /** This sender's part of the pc's sender reports (SenderReports), null when it cannot send. */
  report(): SenderReport | null {
    const s = this.s;
    const dtls = s.dtlsTransport;
    if (this.closed || s.stopped || !dtls || dtls.state !== 'connected' || this.packets === 0) return null;
    const ntp = ntpOf(performance.timeOrigin + this.lastSentAt);
    // As werift's own loop records them: a receiver report's LSR and DLSR give the round trip.
    s.lastSRtimestamp = Number((ntp >> 16n) & 0xffff_ffffn);
    s.lastSentSRTimestamp = Date.now() / 1000;
    const cname = s.cname !== undefined && Buffer.byteLength(s.cname) <= 255 ? s.cname : undefined;
    return { transport: dtls, ssrc: s.ssrc, ntp, rtpTimestamp: this.lastTimestamp, packets: this.packets, octets: this.octets, cname };
  }

  private nack(lost: number[]): void {
    const s = this.s;
    const dtls = s.dtlsTransport;
    if (this.closed || s.stopped || !dtls || dtls.state !== 'connected' || !s.codec) return;
    const now = performance.now();
    for (const seq of lost) {
      const e = this.ring.take(seq, now);
      if (!e) continue;
      this.retransmitted += 1;
      let enc: Buffer;
      if (s.rtxPayloadType !== undefined) {
        const rseq = (this.rtxSeq = (this.rtxSeq + 1) & 0xffff);
        const hl = this.writeHeader(dtls, s.rtxPayloadType, e.marker, rseq, e.timestamp, s.rtxSsrc, now);
        if (hl < 0) return;
        enc = this.encryptor!.protect(this.hdr, hl, seq, e.payload, s.rtxSsrc, this.rtxIndex.rocFor(rseq), rseq);
      } else {
        const hl = this.writeHeader(dtls, s.codec.payloadType, e.marker, seq, e.timestamp, s.ssrc, now);
        if (hl < 0) return;
        enc = this.encryptor!.protect(this.hdr, hl, -1, e.payload, s.ssrc, this.index.rocFor(seq), seq);
      }
      this.transmit(dtls, enc, now);
    }
  }

  /** Writes the RTP header into `hdr`; returns its length, or -1 when SRTP is not ready. */
  private writeHeader(dtls: DtlsLike, pt: number, marker: boolean, seq: number, ts: number, ssrc: number, now: number): number {
    const srtp = dtls.srtp;
    if (!srtp) return -1;
    if (srtp !== this.srtpOf) {
      const c = srtp.localContext;
      this.encryptor = new SrtpEncryptor({ profile: c.profile, key: c.srtpSessionKey, salt: c.srtpSessionSalt, authKey: c.srtpSessionAuthTag }, this.s.ssrc);
      this.srtpOf = srtp;
    }
    let t = this.template;
    if (!t || t.exts !== this.s.headerExtensions || t.mid !== this.s.mid) t = this.template = buildTemplate(this.s.headerExtensions, this.s.mid);
    const h = this.hdr;
    this.pendingWideSeq = -1;
    h[0] = t.ext.length > 0 ? 0x90 : 0x80;
    h[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
    h.writeUInt16BE(seq, 2);
    h.writeUInt32BE(ts >>> 0, 4);
    h.writeUInt32BE(ssrc >>> 0, 8);
    if (t.ext.length === 0) return 12;
    t.ext.copy(h, 12);
    let wideSeq = -1;
    if (t.twccAt >= 0) {
      wideSeq = dtls.transportSequenceNumber = (dtls.transportSequenceNumber + 1) & 0xffff;
      h.writeUInt16BE(wideSeq, t.twccAt);
    }
    if (t.absAt >= 0) {
      // 6.18 fixed-point seconds, the low 24 bits.
      const v = Math.floor(((performance.timeOrigin + now) / 1000 + NTP_EPOCH) * 262144) % 16777216;
      h[t.absAt] = v >>> 16;
      h[t.absAt + 1] = (v >>> 8) & 0xff;
      h[t.absAt + 2] = v & 0xff;
    }
    this.pendingWideSeq = wideSeq;
    return 12 + t.ext.length;
  }

  private transmit(dtls: DtlsLike, enc: Buffer, now: number): void {
    const ice = dtls.iceTransport.connection;
    if (!ice.canSendApplicationData()) return;
    const pair = ice.nominated!;
    const sock = pair.protocol.type === 'stun' ? pair.protocol.transport : undefined;
    if (sock?.socket && !sock.closed) {
      if (sendDatagram(sock.socket, enc, pair.remoteAddr[1], pair.remoteAddr[0])) this.encryptor!.recycle();
      pair.packetsSent += 1;
      pair.bytesSent += enc.length;
    } else {
      // A TURN relay (or anything but a plain UDP pair): werift's own path.
      void ice.send(enc).catch(() => {});
    }
    dtls.bytesSent += enc.length;
    dtls.packetsSent += 1;
    if (this.pendingWideSeq >= 0) this.onSent?.(this.pendingWideSeq, enc.length, now);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reports?.remove(this);
    this.offNack();
    this.ring.clear();
  }
}

function buildTemplate(exts: { id: number; uri: string }[], mid: string | undefined): Template {
  const items: { id: number; payload: Buffer; role: 'mid' | 'twcc' | 'abs' }[] = [];
  for (const e of exts) {
    if (e.id < 1 || e.id > 14) continue; // one-byte form only, as werift writes
    if (e.uri === RTP_EXTENSION_URI.sdesMid && mid && mid.length <= 16) items.push({ id: e.id, payload: Buffer.from(mid, 'ascii'), role: 'mid' });
    else if (e.uri === RTP_EXTENSION_URI.transportWideCC) items.push({ id: e.id, payload: Buffer.alloc(2), role: 'twcc' });
    else if (e.uri === RTP_EXTENSION_URI.absSendTime) items.push({ id: e.id, payload: Buffer.alloc(3), role: 'abs' });
  }
  items.sort((a, b) => a.id - b.id);
  if (items.length === 0) return { ext: Buffer.alloc(0), twccAt: -1, absAt: -1, exts, mid };
  const body = items.reduce((n, i) => n + 1 + i.payload.length, 0);
  const words = Math.ceil(body / 4);
  const ext = Buffer.alloc(4 + words * 4);
  ext.writeUInt16BE(0xbede, 0);
  ext.writeUInt16BE(words, 2);
  let o = 4;
  let twccAt = -1;
  let absAt = -1;
  for (const i of items) {
    ext[o++] = (i.id << 4) | (i.payload.length - 1);
    if (i.role === 'twcc') twccAt = 12 + o;
    if (i.role === 'abs') absAt = 12 + o;
    o += i.payload.copy(ext, o);
  }
  return { ext, twccAt, absAt, exts, mid };
}

/** A wall-clock time (ms since 1970) as a 64-bit NTP timestamp. */
export function ntpOf(wallMs: number): bigint {
  const secs = Math.floor(wallMs / 1000);
  const frac = Math.floor(((wallMs - secs * 1000) / 1000) * 0x1_0000_0000);
  return (BigInt(secs + NTP_EPOCH) << 32n) | BigInt(frac >>> 0);
}
