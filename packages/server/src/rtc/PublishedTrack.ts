/**
 * One track a participant publishes (a microphone, a camera, a screen share), as it arrives on the
 * participant's publishing pc. It fans each RTP packet out to the DownTracks that forward it to
 * subscribers; it never decodes or mixes. Keyframe requests from all subscribers are merged and
 * rate-limited into one PLI to the publisher.
 */
import type { RtpPacket } from 'werift';
import type { RtcTrackInfo } from '@parley/protocol';
import type { DownTrack } from './DownTrack.ts';
import { Emitter } from './Emitter.ts';
import type { Release } from './Ledger.ts';
import type { PublishedTrackEvents, PublishedTrackInfo, RtcContext, Upstream } from './RoomTypes.ts';

export class PublishedTrack extends Emitter<PublishedTrackEvents> {
  readonly info: PublishedTrackInfo;
  private readonly sinks = new Set<DownTrack>();
  private readonly release: Release;
  private _muted = false;
  private _closed = false;
  private keyframeWanted = false;
  private lastKeyframeRequest = 0;
  /** Packets received from the publisher. */
  received = 0;

  constructor(
    private readonly ctx: RtcContext,
    info: PublishedTrackInfo,
    private readonly upstream: Upstream,
  ) {
    super((err) => ctx.log.warn({ err }, 'published track listener failed'));
    this.info = info;
    this.release = ctx.ledger.open('track');
  }

  get id() {
    return this.info.id;
  }
  get kind() {
    return this.info.kind;
  }
  get muted(): boolean {
    return this._muted;
  }
  get closed(): boolean {
    return this._closed;
  }
  get subscribers(): number {
    return this.sinks.size;
  }

  wire(): RtcTrackInfo {
    return { id: this.info.id, participant: this.info.owner, kind: this.info.kind, source: this.info.source, muted: this._muted };
  }

  /** One packet from the publisher. Muted tracks forward nothing (the client may still send silence). */
  forward(packet: RtpPacket): void {
    if (this._closed) return;
    this.received += 1;
    if (this.keyframeWanted) this.flushKeyframeRequest();
    if (this._muted) return;
    for (const sink of this.sinks) sink.write(packet);
  }

  attach(sink: DownTrack): void {
    if (this._closed) throw new Error('published track is closed');
    this.sinks.add(sink);
  }

  detach(sink: DownTrack): void {
    this.sinks.delete(sink);
  }

  /** True when the state changed. Unmuting resyncs every subscriber's stream and asks for a keyframe. */
  setMuted(muted: boolean): boolean {
    if (this._closed || this._muted === muted) return false;
    this._muted = muted;
    if (!muted) {
      for (const sink of this.sinks) sink.resync();
      this.requestKeyframe();
    }
    this.emit('muted', muted);
    return true;
  }

  /** A subscriber needs a keyframe (it joined, or its decoder lost the picture). */
  requestKeyframe(): void {
    if (this._closed || this.info.kind !== 'video') return;
    this.keyframeWanted = true;
    this.flushKeyframeRequest();
  }

  /** Sends the PLI now if the rate limit allows; otherwise the next packet tries again. */
  private flushKeyframeRequest(): void {
    const now = Date.now();
    if (now - this.lastKeyframeRequest < this.ctx.options.keyframeIntervalMs) return;
    if (!this.upstream.requestKeyframe()) return;
    this.lastKeyframeRequest = now;
    this.keyframeWanted = false;
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const sink of [...this.sinks]) sink.close();
    this.sinks.clear();
    this.release();
    this.emit('close');
    this.removeAllListeners();
  }
}
