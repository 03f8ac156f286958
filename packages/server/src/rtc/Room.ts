/**
 * A room: its participants, and the wiring between them. Every track one participant publishes is
 * subscribed by every other participant (the SFU forwards, never mixes); every change is announced
 * to the others. The room closes (from the RoomManager) when its last participant leaves.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError, type RtcEvent } from '@parley/protocol';
import { Emitter } from './Emitter.ts';
import type { Release } from './Ledger.ts';
import { Participant } from './Participant.ts';
import type { Identity, ParticipantId, RoomEvents, RoomId, RtcContext, SignalChannel } from './RoomTypes.ts';

export class Room extends Emitter<RoomEvents> {
  private readonly members = new Map<ParticipantId, Participant>();
  private readonly release: Release;
  private _closed = false;

  constructor(
    private readonly ctx: RtcContext,
    readonly id: RoomId,
  ) {
    super((err) => ctx.log.warn({ err, room: id }, 'room listener failed'));
    this.release = ctx.ledger.open('room');
  }

  get closed(): boolean {
    return this._closed;
  }

  get size(): number {
    return this.members.size;
  }

  participants(): Participant[] {
    return [...this.members.values()];
  }

  /** Add a participant; it gets `joined` with everyone already there, the others `participant-joined`. */
  join(identity: Identity, channel: SignalChannel): Participant {
    if (this._closed) throw new ParleyError('NOT_FOUND', 'room closed');
    if (this.members.size >= this.ctx.options.maxParticipants) throw new ParleyError('FORBIDDEN', 'the room is full');
    const id = `p_${randomBytes(9).toString('base64url')}` as ParticipantId;
    const p = new Participant(this.ctx, id, this.id, identity, channel);
    const others = this.participants();
    this.members.set(id, p);

    p.on('trackpublished', (track) => {
      for (const q of this.participants()) if (q !== p) q.subscriber.subscribe(track);
      this.broadcast({ ev: 'track-published', track: track.wire() });
    });
    p.on('trackunpublished', (track) => this.broadcast({ ev: 'track-unpublished', participant: p.id, track: track.id }));
    p.on('trackmuted', (track) => this.broadcast({ ev: 'track-muted', participant: p.id, track: track.id, muted: track.muted }));
    p.on('close', () => {
      this.members.delete(id);
      this.broadcast({ ev: 'participant-left', participant: id });
      this.emit('participantleft', p);
    });

    p.send({ ev: 'joined', participant: id, participants: others.map((o) => o.wire()), iceServers: this.ctx.options.iceServers });
    for (const o of others) {
      o.send({ ev: 'participant-joined', participant: p.wire() });
      for (const track of o.tracks()) p.subscriber.subscribe(track);
    }
    this.emit('participantjoined', p);
    return p;
  }

  private broadcast(ev: RtcEvent, except?: Participant): void {
    for (const p of this.members.values()) if (p !== except) p.send(ev);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const p of this.participants()) p.close('room closed');
    this.members.clear();
    this.release();
    this.emit('close');
    this.removeAllListeners();
  }
}
