/**
 * A participant's subscribing pc: the SFU offers, the client answers and receives. One sendonly
 * transceiver (a DownTrack) per track of the other participants. Negotiation is the server's:
 * changes are batched into one offer; while an offer waits for its answer, further changes wait
 * for the next one. A DownTrack starts forwarding (and asks its publisher for a keyframe) once its
 * m-line is negotiated and the pc is connected.
 */
import { ParleyError, type IceCandidateInfo } from '@parley/protocol';
import { MediaStream, type RTCRtpTransceiver } from 'werift';
import { DownTrack } from './DownTrack.ts';
import { Emitter } from './Emitter.ts';
import { Peer, checkSdp, sdpError } from './Peer.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { ParticipantId, RtcContext, SubscriberEvents, TrackId } from './RoomTypes.ts';

interface Outbound {
  down: DownTrack;
  transceiver: RTCRtpTransceiver;
}

export class Subscriber extends Emitter<SubscriberEvents> {
  readonly peer: Peer;
  private readonly outbound = new Map<TrackId, Outbound>();
  private cancelScheduled: (() => void) | null = null;
  private negotiating = false;
  private again = false;
  private _closed = false;

  constructor(
    private readonly ctx: RtcContext,
    readonly owner: ParticipantId,
  ) {
    super((err) => ctx.log.warn({ err }, 'subscriber listener failed'));
    this.peer = new Peer(
      ctx,
      (c) => this.emit('ice', c),
      (reason) => this.emit('failed', reason),
      () => this.startReady(),
    );
  }

  get closed(): boolean {
    return this._closed;
  }

  downTracks(): DownTrack[] {
    return [...this.outbound.values()].map((o) => o.down);
  }

  /** Start receiving a track of another participant. */
  subscribe(track: PublishedTrack): DownTrack | null {
    if (this._closed || track.closed || this.outbound.has(track.id)) return null;
    const pc = this.peer.pc;
    const transceiver = pc.addTransceiver(track.kind, { direction: 'sendonly', streams: [new MediaStream({ id: track.info.owner })] });
    const sender = transceiver.sender;
    const down = new DownTrack(this.ctx, track, {
      ssrc: sender.ssrc,
      send: (packet) => void sender.sendRtp(packet).catch(() => {}),
      onKeyframeRequest: (fn) => sender.onPictureLossIndication.subscribe(fn).unSubscribe,
    });
    this.outbound.set(track.id, { down, transceiver });
    down.on('close', () => {
      this.outbound.delete(track.id);
      if (this._closed) return;
      transceiver.stop();
      this.schedule();
    });
    this.schedule();
    return down;
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
    const mids: Record<string, string> = {};
    for (const [id, o] of this.outbound) if (o.transceiver.mid !== null) mids[o.transceiver.mid] = id;
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

  /** Start every DownTrack whose m-line is negotiated, once the pc is connected. */
  private startReady(): void {
    if (this._closed || !this.peer.connected) return;
    for (const o of this.outbound.values()) {
      const dir = o.transceiver.currentDirection;
      if (dir === 'sendonly' || dir === 'sendrecv') o.down.start();
    }
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.cancelScheduled?.();
    this.cancelScheduled = null;
    for (const o of [...this.outbound.values()]) o.down.close();
    this.outbound.clear();
    this.peer.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
