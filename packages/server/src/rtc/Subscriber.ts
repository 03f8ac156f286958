/**
 * A participant's subscribing pc: the SFU offers, the client answers and receives. A DownTrack
 * per track of the other participants, but m-lines only for what is forwarded: a fixed set of
 * sendonly slots per kind that last-N's choices are bound to. A slot freed by a track last-N
 * dropped carries the next one it picks (the offer's `mids` tells the client which track each
 * m-line carries now); an m-line is added only when more tracks are forwarded at once than ever
 * before, so the SDP stays at about N video + audioN audio m-lines in a room of any size, and a
 * join renegotiates only the subscribers whose last-N it enters. Slots are never removed.
 *
 * Negotiation is the server's: changes are batched into one offer; while an offer waits for its
 * answer, further changes wait for the next one. A bound DownTrack starts forwarding (and asks its
 * publisher for a keyframe) once its slot is negotiated, the client has answered an offer naming
 * the binding, and the pc is connected. A slot keeps its SSRC and its RtpRewriter across
 * bindings, so the client sees one continuous stream per m-line.
 *
 * Bandwidth: a BandwidthEstimator per subscriber, fed by the transport-cc feedback (and REMB) the
 * client sends about what the SFU sends it. Each tick, the video DownTracks share the estimate,
 * biggest tile first: each gets what is left after the smallest layers of the others are reserved.
 * Until the first feedback the estimate is unknown (Infinity) and only tile sizes count.
 */
import { ParleyError, type IceCandidateInfo } from '@parley/protocol';
import { MediaStream, ReceiverEstimatedMaxBitrate, RtcpPayloadSpecificFeedback, type RTCRtpTransceiver, type TransportWideCC } from 'werift';
import { DownTrack } from './DownTrack.ts';
import { DirectSender } from './forward/DirectSender.ts';
import { RtpRewriter } from './forward/RtpRewriter.ts';
import { SenderReports } from './forward/SenderReports.ts';
import { Emitter } from './Emitter.ts';
import { Peer, checkSdp, sdpError } from './Peer.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { ParticipantId, RtcContext, SubscriberEvents, TrackId } from './RoomTypes.ts';
import { BandwidthEstimator } from './simulcast/BandwidthEstimator.ts';
import { layerCost, type TileSize } from './simulcast/SimulcastTypes.ts';
import { twccResults } from './simulcast/twcc.ts';

/** One m-line of the subscribing pc: a sendonly transceiver that carries one forwarded track at a time. */
interface Slot {
  kind: 'audio' | 'video';
  transceiver: RTCRtpTransceiver;
  direct: DirectSender;
  /** The slot's stream numbering, handed to whichever DownTrack it carries. */
  rewriter: RtpRewriter;
  binding: Outbound | null;
  /** The DownTrack the last offer's `mids` named for this slot: the client knows the binding. */
  offered: DownTrack | null;
}

/** One track of another participant, and the slot carrying it (null: not forwarded). */
interface Outbound {
  down: DownTrack;
  slot: Slot | null;
  /** The DownTrack's keyframe handler, for PLIs arriving on its slot. */
  keyframe: (() => void) | null;
}

export class Subscriber extends Emitter<SubscriberEvents> {
  readonly peer: Peer;
  private readonly outbound = new Map<TrackId, Outbound>();
  private readonly slots: Slot[] = [];
  /** Scratch of `tick` (reused: it runs every room tick for every subscriber). */
  private readonly tickVideos: DownTrack[] = [];
  private readonly tickFloors: number[] = [];
  /** One compound RTCP sender report per interval for all slots, not one per slot. */
  private readonly reports = new SenderReports();
  private cancelScheduled: (() => void) | null = null;
  private negotiating = false;
  private again = false;
  private _closed = false;
  readonly estimator = new BandwidthEstimator();
  /** Congestion feedback arrived: the estimate means something. */
  private feedbackSeen = false;
  /** Test hook: a cap on the estimate (bit/s), as if a REMB said so. Infinity: none. */
  capBps = Infinity;

  constructor(
    private readonly ctx: RtcContext,
    readonly owner: ParticipantId,
  ) {
    super((err) => ctx.log.warn({ err }, 'subscriber listener failed'));
    this.peer = new Peer(
      ctx,
      (c) => this.emit('ice', c),
      (reason) => this.emit('failed', `subscribing ${reason}`),
      () => this.startReady(),
    );
  }

  get closed(): boolean {
    return this._closed;
  }

  downTracks(): DownTrack[] {
    return [...this.outbound.values()].map((o) => o.down);
  }

  /** m-lines of the subscribing pc, by kind (for stats and tests). */
  slotCount(kind?: 'audio' | 'video'): number {
    return kind ? this.slots.filter((s) => s.kind === kind).length : this.slots.length;
  }

  /**
   * Make a track of another participant available to this subscriber. Nothing travels until
   * last-N forwards it (`DownTrack.setForwarded(true)`, from the room's tick): then it gets a slot.
   */
  subscribe(track: PublishedTrack): DownTrack | null {
    if (this._closed || track.closed || this.outbound.has(track.id)) return null;
    const o = { slot: null, keyframe: null } as unknown as Outbound;
    o.down = new DownTrack(
      this.ctx,
      track,
      {
        ssrc: 0,
        send: (payload, marker, seq, ts) => o.slot?.direct.send(payload, marker, seq, ts),
        onKeyframeRequest: (fn) => {
          o.keyframe = fn;
          return () => (o.keyframe = null);
        },
      },
      false,
    );
    this.outbound.set(track.id, o);
    o.down.on('forwarded', (on) => (on ? this.bind(o) : this.unbind(o)));
    o.down.on('close', () => {
      this.outbound.delete(track.id);
      this.unbind(o);
    });
    return o.down;
  }

  /** Give a forwarded track a free slot of its kind, adding an m-line only when none is free. */
  private bind(o: Outbound): void {
    if (this._closed || o.slot || o.down.closed) return;
    const kind = o.down.track.kind;
    const slot = this.slots.find((s) => s.kind === kind && s.binding === null) ?? this.addSlot(kind);
    slot.binding = o;
    o.slot = slot;
    o.down.useRewriter(slot.rewriter);
    // It starts once the client has the offer naming the new binding (answer → startReady).
    this.schedule();
  }

  private unbind(o: Outbound): void {
    const slot = o.slot;
    if (!slot) return;
    o.slot = null;
    slot.binding = null;
    o.down.stop();
    if (!this._closed) this.schedule();
  }

  private addSlot(kind: 'audio' | 'video'): Slot {
    const i = this.slots.length;
    const transceiver = this.peer.pc.addTransceiver(kind, { direction: 'sendonly', streams: [new MediaStream({ id: `slot${i}` })] });
    const sender = transceiver.sender;
    this.watchFeedback(sender);
    const est = this.estimator;
    const slot: Slot = {
      kind,
      transceiver,
      direct: new DirectSender(sender, { onSent: (wideSeq, size, at) => est.sent(wideSeq, size, at), reports: this.reports }),
      rewriter: new RtpRewriter({ ssrc: sender.ssrc, clockRate: kind === 'audio' ? 48000 : 90000 }),
      binding: null,
      offered: null,
    };
    sender.onPictureLossIndication.subscribe(() => slot.binding?.keyframe?.());
    this.slots.push(slot);
    return slot;
  }

  /**
   * Route the subscriber's congestion feedback to this subscriber's estimator. The DirectSender
   * reports each packet it stamps with a transport-wide sequence number (video only: the SFU
   * negotiates transport-cc on video); a transport-cc feedback reaches `senderBWE.receiveTWCC` of
   * the sender its media SSRC names. Replacing werift's own estimator (which nothing here reads)
   * also saves its work.
   */
  private watchFeedback(sender: RTCRtpTransceiver['sender']): void {
    const est = this.estimator;
    (sender as unknown as { senderBWE: unknown }).senderBWE = {
      rtpPacketSent: () => {},
      receiveTWCC: (fb: TransportWideCC) => {
        this.feedbackSeen = true;
        est.feedback(twccResults(fb), performance.now());
      },
    };
    sender.onRtcp.subscribe((packet) => {
      if (packet instanceof RtcpPayloadSpecificFeedback && packet.feedback instanceof ReceiverEstimatedMaxBitrate) {
        this.feedbackSeen = true;
        est.remb(packet.feedback.bitrate);
      }
    });
  }

  /** Bit/s towards this subscriber; Infinity before any feedback. */
  get bandwidth(): number {
    return Math.min(this.capBps, this.feedbackSeen ? this.estimator.estimate : Infinity);
  }

  /** The subscriber shows `track` at this size (`rtc.layer`); 0×0 hides it. */
  setTile(track: TrackId, size: TileSize): void {
    const o = this.outbound.get(track);
    if (!o) throw new ParleyError('NOT_FOUND', 'no such track in this subscription');
    o.down.tile = size.width > 0 && size.height > 0 ? size : null;
    o.down.tileSetAt = Date.now();
  }

  /** Share the bandwidth among the video DownTracks and let each choose its layer (from the room's tick). */
  tick(now: number): void {
    if (this._closed) return;
    // Only the video DownTracks with a choice to make share the estimate: a hidden one that
    // forwards nothing would get a share and decide nothing again (most of them under last-N).
    const videos = this.tickVideos;
    videos.length = 0;
    for (const o of this.outbound.values()) if (o.down.isStarted && o.down.choosing) videos.push(o.down);
    videos.sort((a, b) => area(b.tile) - area(a.tile));
    let left = this.bandwidth;
    let reserved = 0;
    const floor = this.tickFloors;
    floor.length = videos.length;
    for (let i = 0; i < videos.length; i++) {
      const d = videos[i]!;
      const lowest = d.forwarded && d.tile ? d.track.layers(now)[0] : undefined;
      floor[i] = lowest ? layerCost(lowest) : 0;
      reserved += floor[i]!;
    }
    for (let i = 0; i < videos.length; i++) {
      reserved -= floor[i]!;
      const share = left === Infinity ? Infinity : Math.max(0, left - reserved);
      left -= videos[i]!.update(now, share);
    }
    videos.length = 0;
  }

  unsubscribe(track: TrackId): void {
    this.outbound.get(track)?.down.close();
  }

  /** Batch the changes of this turn of the event loop into one offer. */
  private schedule(): void {
    if (this._closed || this.cancelScheduled) return;
    if (this.negotiating) {
      this.again = true;
      return;
    }
    this.cancelScheduled = this.ctx.ledger.timeout(() => {
      this.cancelScheduled = null;
      void this.negotiate().catch((err: unknown) => {
        this.ctx.log.warn({ err }, 'subscriber offer failed');
        this.emit('failed', 'negotiation failed');
      });
    }, 0);
  }

  private async negotiate(): Promise<void> {
    if (this._closed) return;
    this.negotiating = true;
    this.again = false;
    const pc = this.peer.pc;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (this._closed) return;
    this.peer.preferAesCm();
    const mids: Record<string, string> = {};
    for (const slot of this.slots) {
      const mid = slot.transceiver.mid;
      slot.offered = mid !== null && slot.binding ? slot.binding.down : null;
      if (slot.offered && mid !== null) mids[mid] = slot.offered.track.id;
    }
    this.peer.expectConnection();
    this.emit('offer', pc.localDescription?.sdp ?? offer.sdp, mids);
  }

  /** The client's answer to the last offer. */
  async answer(sdp: string): Promise<void> {
    if (this._closed) throw new ParleyError('NOT_FOUND', 'subscriber closed');
    if (!this.negotiating || this.peer.pc.signalingState !== 'have-local-offer') throw new ParleyError('INVALID', 'no offer is waiting for an answer');
    checkSdp(sdp);
    try {
      await this.peer.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      throw sdpError(err);
    }
    this.negotiating = false;
    this.startReady();
    if (this.again) this.schedule();
  }

  addIce(c: IceCandidateInfo | null): Promise<void> {
    return this.peer.addIce(c);
  }

  /** Start every bound DownTrack whose slot is negotiated and whose binding the client knows, once the pc is connected. */
  private startReady(): void {
    if (this._closed || !this.peer.connected) return;
    for (const slot of this.slots) {
      const dir = slot.transceiver.currentDirection;
      const down = slot.binding?.down;
      if (down && slot.offered === down && (dir === 'sendonly' || dir === 'sendrecv')) down.start();
    }
  }

  downTrack(track: TrackId): DownTrack | undefined {
    return this.outbound.get(track)?.down;
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.cancelScheduled?.();
    this.cancelScheduled = null;
    for (const o of [...this.outbound.values()]) o.down.close();
    this.outbound.clear();
    for (const slot of this.slots) slot.direct.close();
    this.reports.close();
    this.peer.close();
    this.emit('close');
    this.removeAllListeners();
  }
}


const area = (t: TileSize | null) => (t ? t.width * t.height : 0);
