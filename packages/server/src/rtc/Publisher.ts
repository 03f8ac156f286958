/**
 * A participant's publishing pc: the client offers, the SFU answers and receives. Each m-line the
 * client sends on becomes a PublishedTrack (announced at once, before its media flows); an m-line
 * that stops sending in a later offer unpublishes its track.
 *
 * Simulcast: werift's pc.onTrack fires for the first layer only; the transceiver's `onTrack` and
 * `receiver.tracks` give one MediaStreamTrack per layer (rid), without an SSRC until its first
 * packet. Every layer's packets go to the PublishedTrack tagged with their rid; each subscriber's
 * DownTrack picks one. With `simulcast: false` only the first layer that delivers is forwarded.
 *
 * Congestion feedback: the publisher (Chromium) raises its send rate, and turns on its upper
 * layers, only as far as its own estimate allows, which it makes from the transport-cc feedback
 * the SFU sends. A TwccResponder per pc answers every 50 ms for all video packets.
 *
 * DTLS: the answer says `a=setup:passive` (Peer.takeDtlsServerRole): the client starts the
 * handshake and the SFU is the DTLS server, the side that copes with slow, retransmitted flights.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError, type IceCandidateInfo, type TrackSource } from '@parley/protocol';
import type { MediaStreamTrack, RTCRtpTransceiver } from 'werift';
import { Emitter } from './Emitter.ts';
import { Peer, checkSdp, sdpError } from './Peer.ts';
import { PublishedTrack } from './PublishedTrack.ts';
import type { ParticipantId, PublisherEvents, RtcContext, TrackId } from './RoomTypes.ts';
import { audioLevelFromParsed } from './speaker/AudioLevel.ts';
import { TwccResponder } from './simulcast/twcc.ts';

interface Inbound {
  transceiver: RTCRtpTransceiver;
  track: PublishedTrack;
  /** Without simulcast: the one layer forwarded (the first that delivered). */
  layer: MediaStreamTrack | null;
  subs: { unSubscribe(): void }[];
}

const TWCC_INTERVAL_MS = 50;

export class Publisher extends Emitter<PublisherEvents> {
  readonly peer: Peer;
  private readonly inbound = new Map<string, Inbound>();
  private _closed = false;
  /** Offers are applied one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: RtcContext,
    readonly owner: ParticipantId,
  ) {
    super((err) => ctx.log.warn({ err }, 'publisher listener failed'));
    this.peer = new Peer(
      ctx,
      (c) => this.emit('ice', c),
      (reason) => this.emit('failed', `publishing ${reason}`),
    );
    this.cancelTwcc = ctx.ledger.interval(() => this.sendTwcc(), TWCC_INTERVAL_MS);
  }

  private readonly twcc = new TwccResponder();
  private readonly cancelTwcc: () => void;
  private twccMediaSsrc = 0;

  /** werift's receiver calls `receiverTWCC.handleTWCC(seq)` for each packet once one is set. */
  private installTwcc(tr: RTCRtpTransceiver): void {
    if (tr.kind !== 'video') return;
    const shim = {
      twccRunning: false,
      handleTWCC: (seq: number | undefined) => {
        if (typeof seq === 'number') this.twcc.received(seq, performance.now() * 1000);
      },
    };
    (tr.receiver as unknown as { receiverTWCC: unknown }).receiverTWCC = shim;
  }

  private sendTwcc(): void {
    if (this._closed || this.twcc.pending === 0) return;
    const video = this.peer.pc.getTransceivers().find((t) => t.kind === 'video');
    if (!video) return;
    const buf = this.twcc.build(video.receiver.rtcpSsrc, this.twccMediaSsrc);
    if (!buf) return;
    void video.receiver.dtlsTransport?.sendRtcp([{ serialize: () => buf } as never]).catch(() => {});
  }

  get closed(): boolean {
    return this._closed;
  }

  tracks(): PublishedTrack[] {
    return [...this.inbound.values()].map((i) => i.track);
  }

  /** Apply the client's offer; resolves with the answer. Garbage gets INVALID and changes nothing. */
  offer(sdp: string, sources: ReadonlyMap<string, TrackSource>): Promise<string> {
    const run = this.queue.then(() => this.applyOffer(sdp, sources));
    this.queue = run.catch(() => {});
    return run;
  }

  private async applyOffer(sdp: string, sources: ReadonlyMap<string, TrackSource>): Promise<string> {
    if (this._closed) throw new ParleyError('NOT_FOUND', 'publisher closed');
    checkSdp(sdp);
    const pc = this.peer.pc;
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
    } catch (err) {
      throw sdpError(err);
    }
    this.peer.takeDtlsServerRole();
    this.peer.preferAesCm();
    let answer: string;
    try {
      const desc = await pc.createAnswer();
      await pc.setLocalDescription(desc);
      answer = pc.localDescription?.sdp ?? desc.sdp;
    } catch (err) {
      throw sdpError(err);
    }
    if (this._closed) throw new ParleyError('NOT_FOUND', 'publisher closed');
    this.peer.expectConnection();
    this.reconcile(sources);
    return answer;
  }

  /** Publish m-lines that now receive, unpublish those that stopped. */
  private reconcile(sources: ReadonlyMap<string, TrackSource>): void {
    const live = new Set<string>();
    for (const tr of this.peer.pc.getTransceivers()) {
      const mid = tr.mid;
      if (mid === null || tr.stopped || tr.stopping) continue;
      const dir = tr.currentDirection;
      if (dir !== 'recvonly' && dir !== 'sendrecv') continue;
      live.add(mid);
      if (!this.inbound.has(mid)) this.adopt(tr, mid, sources.get(mid));
      // A renegotiation makes werift drop the receiver's TWCC state: ours goes back in.
      this.installTwcc(tr);
    }
    for (const [mid, i] of [...this.inbound]) if (!live.has(mid)) this.drop(mid, i);
  }

  private adopt(tr: RTCRtpTransceiver, mid: string, source: TrackSource | undefined): void {
    const kind = tr.kind === 'audio' ? 'audio' : 'video';
    const inbound: Inbound = { transceiver: tr, layer: null, subs: [], track: null as unknown as PublishedTrack };
    inbound.track = new PublishedTrack(
      this.ctx,
      {
        id: `tr_${randomBytes(9).toString('base64url')}` as TrackId,
        owner: this.owner,
        kind,
        source: source ?? (kind === 'audio' ? 'mic' : 'camera'),
        clockRate: kind === 'audio' ? 48000 : 90000,
      },
      {
        requestKeyframe: (ssrc) => {
          if (this._closed) return false;
          void tr.receiver.sendRtcpPLI(ssrc).catch(() => {});
          return true;
        },
      },
    );
    const simulcast = this.ctx.options.simulcast;
    const published = inbound.track;
    const seen = new Set<MediaStreamTrack>();
    const listen = (t: MediaStreamTrack) => {
      if (seen.has(t)) return;
      seen.add(t);
      inbound.subs.push(
        t.onReceiveRtp.subscribe((packet, extensions) => {
          if (kind === 'audio') {
            const level = audioLevelFromParsed(extensions as Record<string, unknown> | undefined);
            if (level) published.level(level.level);
          } else this.twccMediaSsrc = packet.header.ssrc;
          if (simulcast) return published.forward(packet, t.rid ?? '');
          // One layer only; the first to deliver wins.
          if (inbound.layer === null) inbound.layer = t;
          if (inbound.layer === t) published.forward(packet, t.rid ?? '');
        }),
      );
    };
    // pc.onTrack fires for the first layer only; the transceiver sees every layer.
    for (const t of tr.receiver.tracks) listen(t);
    inbound.subs.push(tr.onTrack.subscribe((t) => listen(t)));
    this.inbound.set(mid, inbound);
    this.emit('track', inbound.track);
  }

  private drop(mid: string, i: Inbound): void {
    this.inbound.delete(mid);
    for (const s of i.subs.splice(0)) s.unSubscribe();
    i.track.close();
  }

  addIce(c: IceCandidateInfo | null): Promise<void> {
    return this.peer.addIce(c);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.cancelTwcc();
    for (const [mid, i] of [...this.inbound]) this.drop(mid, i);
    this.peer.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
