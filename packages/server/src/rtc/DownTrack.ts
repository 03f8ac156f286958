/**
 * One PublishedTrack forwarded to one subscriber: the sending side of a transceiver in the
 * subscriber's pc, with its own RtpRewriter so the subscriber sees one continuous stream (its own
 * SSRC, sequence numbers and timestamps) across mutes and source changes. Owned by the Subscriber;
 * also closed by its PublishedTrack when that closes.
 */
import { RtpHeader, RtpPacket } from 'werift';
import { Emitter } from './Emitter.ts';
import { RtpRewriter } from './forward/RtpRewriter.ts';
import type { Release } from './Ledger.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { DownTrackEvents, RtcContext } from './RoomTypes.ts';

/** Where forwarded packets go: a werift RTCRtpSender in the server, a recorder in unit tests. */
export interface Downstream {
  /** The SSRC the subscriber sees. */
  readonly ssrc: number;
  send(packet: RtpPacket): void;
  /** Called when the subscriber asks for a keyframe (PLI); returns the unsubscribe function. */
  onKeyframeRequest(fn: () => void): () => void;
}

export class DownTrack extends Emitter<DownTrackEvents> {
  readonly rewriter: RtpRewriter;
  private readonly release: Release;
  private readonly offKeyframe: () => void;
  private started = false;
  private _closed = false;

  constructor(
    ctx: RtcContext,
    readonly track: PublishedTrack,
    private readonly downstream: Downstream,
  ) {
    super((err) => ctx.log.warn({ err }, 'down track listener failed'));
    this.rewriter = new RtpRewriter({ ssrc: downstream.ssrc, clockRate: track.info.clockRate });
    this.release = ctx.ledger.open('downtrack');
    this.offKeyframe = downstream.onKeyframeRequest(() => track.requestKeyframe());
    track.attach(this);
  }

  get closed(): boolean {
    return this._closed;
  }
  get isStarted(): boolean {
    return this.started;
  }

  /**
   * The subscriber's pc can carry this track now (connected, m-line negotiated): forward from here
   * on, and ask the publisher for a keyframe so the subscriber can start decoding at once.
   */
  start(): void {
    if (this._closed || this.started) return;
    this.started = true;
    this.track.requestKeyframe();
  }

  /** One packet from the publisher. Copied: each subscriber gets its own header. */
  write(packet: RtpPacket): void {
    if (!this.started || this._closed) return;
    const h = this.rewriter.rewrite(packet.header);
    if (!h) return;
    const src = packet.header;
    const header = new RtpHeader({
      version: src.version,
      padding: src.padding,
      paddingSize: src.paddingSize,
      marker: src.marker,
      payloadType: src.payloadType,
      sequenceNumber: h.sequenceNumber,
      timestamp: h.timestamp,
      ssrc: h.ssrc,
      csrc: [...src.csrc],
    });
    this.downstream.send(new RtpPacket(header, packet.payload));
  }

  /** The next packet starts a new mapping (after a mute, a source change). */
  resync(): void {
    this.rewriter.resync();
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.offKeyframe();
    this.track.detach(this);
    this.release();
    this.emit('close');
    this.removeAllListeners();
  }
}
