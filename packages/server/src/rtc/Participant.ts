/**
 * One device's presence in a room: its signaling channel (the Parley session that joined), its
 * publishing pc (created on its first offer) and its subscribing pc. It closes when asked to leave,
 * when its session ends, or when a pc fails or stays disconnected; closing frees both pcs, every
 * track it published (and with them the other participants' DownTracks) and its timers.
 */
import { ParleyError, type IceCandidateInfo, type PcRole, type RtcEvent, type RtcParticipantInfo, type TrackSource } from '@parley/protocol';
import { Emitter } from './Emitter.ts';
import type { Release } from './Ledger.ts';
import { Publisher } from './Publisher.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { Identity, MediaKind, ParticipantEvents, ParticipantId, RoomId, RtcContext, SignalChannel, TrackId } from './RoomTypes.ts';
import { Subscriber } from './Subscriber.ts';

export class Participant extends Emitter<ParticipantEvents> {
  readonly subscriber: Subscriber;
  private publisher_: Publisher | null = null;
  private readonly release: Release;
  private readonly offChannel: () => void;
  private _closed = false;

  constructor(
    private readonly ctx: RtcContext,
    readonly id: ParticipantId,
    readonly room: RoomId,
    readonly identity: Identity,
    readonly channel: SignalChannel,
  ) {
    super((err) => ctx.log.warn({ err }, 'participant listener failed'));
    this.release = ctx.ledger.open('participant');
    this.subscriber = new Subscriber(ctx, id);
    this.subscriber.on('offer', (sdp, mids) => this.send({ ev: 'offer', pc: 'sub', sdp, mids }));
    this.subscriber.on('ice', (candidate) => this.send({ ev: 'ice', pc: 'sub', candidate }));
    this.subscriber.on('failed', (reason) => this.close(reason));
    this.offChannel = channel.onClose(() => this.close('session closed'));
  }

  get closed(): boolean {
    return this._closed;
  }

  get publisher(): Publisher | null {
    return this.publisher_;
  }

  tracks(): PublishedTrack[] {
    return this.publisher_?.tracks() ?? [];
  }

  wire(): RtcParticipantInfo {
    return { id: this.id, user: this.identity.user, tracks: this.tracks().map((t) => t.wire()) };
  }

  send(ev: RtcEvent): void {
    if (this._closed && ev.ev !== 'closed') return;
    this.channel.send({ t: 'rtc', room: this.room, ...ev });
  }

  private ensurePublisher(): Publisher {
    if (this.publisher_) return this.publisher_;
    const pub = new Publisher(this.ctx, this.id);
    pub.on('ice', (candidate) => this.send({ ev: 'ice', pc: 'pub', candidate }));
    pub.on('failed', (reason) => this.close(reason));
    pub.on('track', (track) => {
      track.on('muted', () => this.emit('trackmuted', track));
      track.on('layers', (active) => this.send({ ev: 'layers', track: track.id, active }));
      track.on('close', () => {
        if (!this._closed) this.emit('trackunpublished', track);
      });
      this.emit('trackpublished', track);
    });
    this.publisher_ = pub;
    return pub;
  }

  /** The client's offer for its publishing pc; resolves with the answer. */
  async offer(pc: PcRole, sdp: string, sources: ReadonlyMap<string, TrackSource>): Promise<string> {
    this.alive();
    if (pc !== 'pub') throw new ParleyError('INVALID', "the client offers only for pc 'pub'; the server offers for 'sub'");
    return this.ensurePublisher().offer(sdp, sources);
  }

  /** The client's answer to the server's offer for the subscribing pc. */
  async answer(pc: PcRole, sdp: string): Promise<void> {
    this.alive();
    if (pc !== 'sub') throw new ParleyError('INVALID', "the client answers only for pc 'sub'");
    await this.subscriber.answer(sdp);
  }

  async ice(pc: PcRole, candidate: IceCandidateInfo | null): Promise<void> {
    this.alive();
    if (pc === 'sub') return this.subscriber.addIce(candidate);
    if (!this.publisher_) throw new ParleyError('INVALID', "no offer for pc 'pub' yet");
    return this.publisher_.addIce(candidate);
  }

  /** Mute or unmute this participant's tracks of a kind (or one of them); returns the tracks changed. */
  mute(kind: MediaKind, muted: boolean, trackId?: string): string[] {
    this.alive();
    const tracks = this.tracks().filter((t) => t.kind === kind && (trackId === undefined || t.id === trackId));
    if (trackId !== undefined && tracks.length === 0) throw new ParleyError('NOT_FOUND', 'no such track');
    return tracks.filter((t) => t.setMuted(muted)).map((t) => t.id);
  }

  /** The client shows `track` at width×height device pixels (0×0: hidden). */
  layer(track: string, width: number, height: number): void {
    this.alive();
    this.subscriber.setTile(track as TrackId, { width, height });
    this.emit('tiles');
  }

  private alive(): void {
    if (this._closed) throw new ParleyError('NOT_FOUND', 'not in a room');
  }

  /** Idempotent. `reason` goes to the client in a `closed` frame unless its session is gone. */
  close(reason = 'left'): void {
    if (this._closed) return;
    this._closed = true;
    this.offChannel();
    if (reason !== 'session closed' && reason !== 'left') this.send({ ev: 'closed', reason });
    this.publisher_?.close();
    this.subscriber.close();
    this.release();
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
