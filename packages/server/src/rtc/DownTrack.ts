/**
 * One PublishedTrack forwarded to one subscriber: the sending side of a transceiver in the
 * subscriber's pc, with its own RtpRewriter so the subscriber sees one continuous stream (its own
 * SSRC, sequence numbers and timestamps) across mutes, layer switches and source changes. Owned by
 * the Subscriber; also closed by its PublishedTrack when that closes.
 *
 * Video has a LayerSelector: of the publisher's simulcast layers, the one that fits the tile the
 * subscriber shows (`rtc.layer`) and its share of the subscriber's bandwidth; a switch waits for a
 * keyframe of the new layer (asked for with a PLI). `forwarded` is last-N's switch: off, nothing of
 * this track travels (video: no layer at all, so the publisher may pause layers nobody watches).
 */
import type { RtpPacket } from 'werift';
import { Emitter } from './Emitter.ts';
import { RtpRewriter } from './forward/RtpRewriter.ts';
import type { Release } from './Ledger.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { DownTrackEvents, RtcContext } from './RoomTypes.ts';
import { LayerSelector, type SelectorDecision } from './simulcast/LayerSelector.ts';
import { layerCost, type LayerId, type TileSize } from './simulcast/SimulcastTypes.ts';

/** Where forwarded packets go: a DirectSender beside a werift RTCRtpSender in the server, a recorder in unit tests. */
export interface Downstream {
  /** The SSRC the subscriber sees. */
  readonly ssrc: number;
  /** One packet with this subscriber's sequence number and timestamp; `payload` is shared, never to be modified. */
  send(payload: Buffer, marker: boolean, sequenceNumber: number, timestamp: number): void;
  /** Called when the subscriber asks for a keyframe (PLI); returns the unsubscribe function. */
  onKeyframeRequest(fn: () => void): () => void;
}

/** The tile assumed until the subscriber says (`rtc.layer`): a mid-sized one. */
export const DEFAULT_TILE: TileSize = { width: 640, height: 360 };

export class DownTrack extends Emitter<DownTrackEvents> {
  /** Its own until the Subscriber binds it to a slot; then the slot's. */
  rewriter: RtpRewriter;
  /** Video only. */
  readonly selector: LayerSelector | null;
  private readonly release: Release;
  private readonly offKeyframe: () => void;
  private started = false;
  private _closed = false;
  private _forwarded = true;
  /** The size the subscriber shows this track at; null: hidden. */
  tile: TileSize | null = DEFAULT_TILE;
  /** Whether the subscriber said a tile size (last-N ranks such tiles first). */
  tileSetAt = 0;
  /** The last decision, for stats and tests. */
  decision: SelectorDecision | null = null;

  constructor(
    ctx: RtcContext,
    readonly track: PublishedTrack,
    private readonly downstream: Downstream,
    /** Whether it forwards from the start, or waits for last-N to say (the Subscriber's choice). */
    forwarded = true,
  ) {
    super((err) => ctx.log.warn({ err }, 'down track listener failed'));
    this._forwarded = forwarded;
    this.rewriter = new RtpRewriter({ ssrc: downstream.ssrc, clockRate: track.info.clockRate });
    this.selector = track.kind === 'video' ? new LayerSelector() : null;
    this.release = ctx.ledger.open('downtrack');
    this.offKeyframe = downstream.onKeyframeRequest(() => {
      const layer = this.selector?.currentLayer;
      track.requestKeyframe(layer === null ? undefined : layer);
    });
    track.attach(this);
  }

  get closed(): boolean {
    return this._closed;
  }
  get isStarted(): boolean {
    return this.started;
  }
  get forwarded(): boolean {
    return this._forwarded;
  }

  /**
   * The subscriber's pc can carry this track now (connected, m-line negotiated): forward from here
   * on. Video starts at the next keyframe of the chosen layer (the selector asks for one).
   */
  start(): void {
    if (this._closed || this.started) return;
    this.started = true;
    if (!this.selector) return;
    this.update(Date.now(), Infinity);
  }

  /** Last-N switches this track on or off for the subscriber. */
  setForwarded(on: boolean): void {
    if (this._closed || this._forwarded === on) return;
    this._forwarded = on;
    if (on) this.rewriter.resync();
    this.emit('forwarded', on);
  }

  /** No m-line carries it any more (its slot went to another track): nothing is sent until `start()` again. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    if (this.selector) this.update(Date.now(), Infinity);
  }

  /** Forward with this rewriter from the next packet on (a slot's, continuing its stream). */
  useRewriter(r: RtpRewriter): void {
    this.rewriter = r;
    r.resync();
  }

  /**
   * Re-run the layer choice with this much bandwidth for the track (bit/s; Infinity when unknown);
   * returns the bitrate the chosen layer costs (0 when none). Video only; from the Subscriber's tick.
   */
  update(now: number, bandwidth: number): number {
    if (!this.selector || this._closed) return 0;
    // Hidden and already forwarding nothing: the selector would decide the same again.
    if (!this.choosing) return 0;
    const tile = this.shownTile();
    const layers = this.track.layers(now);
    const d = this.selector.update({ layers, tile, bandwidth }, now);
    this.decision = d;
    if (d.requestKeyframe !== null) this.track.requestKeyframe(d.requestKeyframe);
    const chosen = d.pending ?? d.current;
    const layer = chosen === null ? undefined : layers.find((l) => l.id === chosen);
    return layer ? layerCost(layer) : 0;
  }

  /** The tile the layer choice serves: none unless started, forwarded (last-N) and unmuted. */
  shownTile(): TileSize | null {
    return this.started && this._forwarded && !this.track.muted ? this.tile : null;
  }

  /** Whether `update` has anything to do: a tile to serve, or a layer still to let go of. */
  get choosing(): boolean {
    return this.selector !== null && (this.shownTile() !== null || !this.selector.idle || this.decision === null);
  }

  /** The layer being forwarded now (video), for stats and tests. */
  get layer(): LayerId | null {
    return this.selector?.currentLayer ?? null;
  }

  /**
   * One packet of the publisher's layer `layer`; `keyframe` when it starts one. The publisher's
   * packet is never modified: the downstream writes its own header from the rewritten numbers.
   * Padding-only packets (bandwidth probes) are not forwarded and leave no gap.
   */
  write(packet: RtpPacket, layer: LayerId = '', keyframe = false): void {
    if (!this.started || this._closed || !this._forwarded) return;
    if (this.selector) {
      const verdict = this.selector.onPacket(layer, keyframe);
      if (verdict === 'drop') return;
      if (verdict === 'switch') this.rewriter.resync();
    }
    if (packet.payload.length === 0) {
      this.rewriter.skip(packet.header);
      return;
    }
    const r = this.rewriter;
    if (!r.map(packet.header)) return;
    this.downstream.send(packet.payload, packet.header.marker, r.outSeq, r.outTs);
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
