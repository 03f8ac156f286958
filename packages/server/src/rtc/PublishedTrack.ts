/**
 * One track a participant publishes (a microphone, a camera, a screen share), as it arrives on the
 * participant's publishing pc, possibly as several simulcast layers (by rid). It fans each RTP
 * packet out to the DownTracks that forward it to subscribers, telling them the packet's layer and
 * whether it starts a keyframe; each DownTrack picks its layer. It never decodes or mixes.
 *
 * - Keyframe requests (per layer) from all subscribers are merged and rate-limited into one PLI
 *   per layer per `keyframeIntervalMs`.
 * - `tick()` (from the room) measures each layer's bitrate and asks the LayerPauser which layers
 *   nobody needs; changes go out as the `layers` event (the Participant tells its client).
 * - Audio levels (RFC 6464) of an audio track go to `onLevel` (the room's SpeakerDetector).
 */
import type { RtpPacket } from 'werift';
import type { RtcTrackInfo } from '@parley/protocol';
import type { DownTrack } from './DownTrack.ts';
import { Emitter } from './Emitter.ts';
import type { Release } from './Ledger.ts';
import type { PublishedTrackEvents, PublishedTrackInfo, RtcContext, Upstream } from './RoomTypes.ts';
import { LayerPauser, demandedLayers } from './simulcast/LayerPauser.ts';
import type { LayerSelector } from './simulcast/LayerSelector.ts';
import { sortLayers, type LayerId, type SimulcastLayer } from './simulcast/SimulcastTypes.ts';
import { isVp8Keyframe, vp8KeyframeSize } from './simulcast/vp8.ts';

/** Frame sizes assumed for a layer until its first keyframe tells (Chromium's rids, by scale 4/2/1). */
const ASSUMED: Record<string, { width: number; height: number }> = { q: { width: 320, height: 180 }, h: { width: 640, height: 360 }, f: { width: 1280, height: 720 } };
/** A layer with no packet for this long is not live. */
const LIVE_MS = 1500;

interface Layer extends SimulcastLayer {
  sized: boolean;
  lastAt: number;
  bytes: number;
  keyframeWanted: boolean;
  lastKeyframeRequest: number;
}

export class PublishedTrack extends Emitter<PublishedTrackEvents> {
  readonly info: PublishedTrackInfo;
  private readonly sinks = new Set<DownTrack>();
  private readonly layerMap = new Map<LayerId, Layer>();
  private readonly release: Release;
  private pauser: LayerPauser | null = null;
  private pauserLayers: LayerId[] = [];
  private lastTick = 0;
  /** Bumped whenever a field `layers()` reports changes other than by the clock alone. */
  private layersVersion = 0;
  private snapshot: readonly SimulcastLayer[] | null = null;
  private snapshotAt = 0;
  private snapshotVersion = -1;
  private _muted = false;
  private _closed = false;
  /** Packets received from the publisher. */
  received = 0;
  /** The room's speaker detector, for audio tracks. */
  onLevel: ((level: number) => void) | null = null;

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

  /**
   * The layers that arrived so far, smallest first, with `live` and `paused` as of `now`. Shared
   * and read-only: every DownTrack of a room's tick asks with the same `now`, so the snapshot is
   * made once per millisecond and layer change (`layersVersion`), not once per subscriber.
   */
  layers(now = Date.now()): readonly SimulcastLayer[] {
    if (this.snapshot && this.snapshotAt === now && this.snapshotVersion === this.layersVersion) return this.snapshot;
    const out: SimulcastLayer[] = [];
    for (const l of this.layerMap.values()) {
      out.push({ id: l.id, ssrc: l.ssrc, width: l.width, height: l.height, bitrate: l.bitrate, live: now - l.lastAt < LIVE_MS, paused: this.pauser?.isPaused(l.id) ?? false });
    }
    this.snapshot = sortLayers(out);
    this.snapshotAt = now;
    this.snapshotVersion = this.layersVersion;
    return this.snapshot;
  }

  private layer(id: LayerId): Layer {
    let l = this.layerMap.get(id);
    if (!l) {
      const size = ASSUMED[id] ?? ASSUMED['f']!;
      l = { id, ssrc: null, ...size, sized: false, bitrate: 0, live: true, lastAt: 0, bytes: 0, keyframeWanted: false, lastKeyframeRequest: 0 };
      this.layerMap.set(id, l);
      this.layersVersion += 1;
    }
    return l;
  }

  /** One packet from the publisher, of simulcast layer `layerId` ('' without simulcast). Muted tracks forward nothing. */
  forward(packet: RtpPacket, layerId: LayerId = ''): void {
    if (this._closed) return;
    this.received += 1;
    const now = Date.now();
    const l = this.layerMap.get(layerId) ?? this.layer(layerId);
    if (l.ssrc !== packet.header.ssrc || now - l.lastAt >= LIVE_MS) this.layersVersion += 1;
    l.ssrc = packet.header.ssrc;
    l.lastAt = now;
    l.bytes += packet.payload.length + 12;
    let keyframe = false;
    if (this.info.kind === 'video') {
      keyframe = isVp8Keyframe(packet.payload);
      if (keyframe && !l.sized) {
        const size = vp8KeyframeSize(packet.payload);
        if (size) {
          l.width = size.width;
          l.height = size.height;
          l.sized = true;
          this.layersVersion += 1;
        }
      }
      if (l.keyframeWanted) this.flushKeyframeRequest(l, now);
    }
    if (this._muted) return;
    for (const sink of this.sinks) sink.write(packet, layerId, keyframe);
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

  /** A subscriber needs a keyframe of one layer (or of every layer: it joined, its decoder lost the picture). */
  requestKeyframe(layerId?: LayerId): void {
    if (this._closed || this.info.kind !== 'video') return;
    const now = Date.now();
    // Nothing arrived yet: no SSRC to ask; the subscribers' selectors ask once layers arrive.
    const targets = layerId === undefined ? [...this.layerMap.values()] : [this.layer(layerId)];
    for (const l of targets) {
      l.keyframeWanted = true;
      this.flushKeyframeRequest(l, now);
    }
  }

  /** Sends the PLI now if the rate limit allows; otherwise the layer's next packet tries again. */
  private flushKeyframeRequest(l: Layer, now: number): void {
    if (now - l.lastKeyframeRequest < this.ctx.options.keyframeIntervalMs) return;
    if (l.ssrc === null || !this.upstream.requestKeyframe(l.ssrc)) return;
    l.lastKeyframeRequest = now;
    l.keyframeWanted = false;
  }

  /** Audio level of one packet (0 loudest … 127 silence). */
  level(level: number): void {
    this.onLevel?.(level);
  }

  /** Bitrates, and which layers nobody needs (from the room, every tick). */
  tick(now: number): void {
    if (this._closed) return;
    const dt = now - this.lastTick;
    if (dt >= 1000) {
      // A paused layer keeps its last measured rate: what resuming it will cost.
      for (const l of this.layerMap.values()) {
        if (this.lastTick !== 0 && l.bytes > 0) l.bitrate = (l.bytes * 8 * 1000) / dt;
        l.bytes = 0;
      }
      this.lastTick = now;
      this.layersVersion += 1;
    }
    if (this.info.kind !== 'video' || this.layerMap.size < 2) return;
    const ids = this.layers(now).map((l) => l.id);
    if (!this.pauser || ids.some((id) => !this.pauserLayers.includes(id))) {
      this.pauserLayers = ids;
      this.pauser = new LayerPauser(ids, { pauseAfterMs: this.ctx.options.layerPauseMs });
      this.layersVersion += 1;
    }
    const changes = this.pauser.update(demandedLayers(this.selectors()), now);
    if (changes.pause.length > 0 || changes.resume.length > 0) {
      this.layersVersion += 1;
      const active: Record<string, boolean> = {};
      for (const id of this.pauserLayers) active[id] = !this.pauser.isPaused(id);
      this.emit('layers', active);
    }
  }

  private *selectors(): Generator<LayerSelector> {
    for (const s of this.sinks) if (s.selector) yield s.selector;
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const sink of [...this.sinks]) sink.close();
    this.sinks.clear();
    this.onLevel = null;
    this.release();
    this.emit('close');
    this.removeAllListeners();
  }
}
