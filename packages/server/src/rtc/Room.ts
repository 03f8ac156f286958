/**
 * A room: its participants, and the wiring between them. Every track one participant publishes is
 * subscribed by every other participant (the SFU forwards, never mixes); which of those actually
 * carry media is last-N's choice. The room closes (from the RoomManager) when its last participant
 * leaves.
 *
 * - Joins and leaves go out batched (PresenceBatcher): one `participants-changed` frame per
 *   `presenceBatchMs` to each member. A newcomer's `joined` snapshot leaves out those still waiting
 *   in the batch (the batch announces them to it too), so every member sees each join exactly once.
 * - Every `tickMs`: the SpeakerDetector ranks the audio levels (a `speaker` frame to everyone when
 *   the dominant speaker changes); last-N is recomputed when the speakers or the tiles changed; each
 *   subscriber shares its bandwidth among its video DownTracks; each published track measures its
 *   layers and pauses those nobody needs.
 * - One participant per device: a join from the same user and device (another session, e.g. after
 *   a dropped link) closes the older participant (reason REJOINED) as the new one comes in.
 */
import { randomBytes } from 'node:crypto';
import { ParleyError, type RtcEvent, type RtcParticipantInfo } from '@parley/protocol';
import { Emitter } from './Emitter.ts';
import type { Release } from './Ledger.ts';
import { Participant } from './Participant.ts';
import type { PublishedTrack } from './PublishedTrack.ts';
import type { Identity, ParticipantId, RoomEvents, RoomId, RtcContext, SignalChannel } from './RoomTypes.ts';
import { selectLastN } from './speaker/LastN.ts';
import { PresenceBatcher } from './speaker/PresenceBatcher.ts';
import { SpeakerDetector } from './speaker/SpeakerDetector.ts';
import { iceServersFor } from './turn.ts';

/** The `closed` reason a participant gets when its device joined the room again. */
export const REJOINED = 'joined again from this device';

export class Room extends Emitter<RoomEvents> {
  private readonly members = new Map<ParticipantId, Participant>();
  private readonly release: Release;
  private readonly speakers: SpeakerDetector<ParticipantId>;
  private readonly presence: PresenceBatcher<ParticipantId, RtcParticipantInfo>;
  private readonly cancelTick: () => void;
  /** Last-N must be recomputed (membership, tracks, tiles or speakers changed). */
  private lastNDirty = true;
  private lastRecent = '';
  private cancelSoon: (() => void) | null = null;
  private _closed = false;

  constructor(
    private readonly ctx: RtcContext,
    readonly id: RoomId,
  ) {
    super((err) => ctx.log.warn({ err, room: id }, 'room listener failed'));
    this.release = ctx.ledger.open('room');
    this.speakers = new SpeakerDetector<ParticipantId>({}, (err) => ctx.log.warn({ err }, 'speaker listener failed'));
    this.speakers.on('dominant', (p) => this.broadcast({ ev: 'speaker', participant: p, speakers: this.speakers.recent() }));
    this.presence = new PresenceBatcher((batch) => this.announce(batch.joined, batch.left), {
      intervalMs: ctx.options.presenceBatchMs,
      setTimer: (fn, ms) => ctx.ledger.timeout(fn, ms),
      clearTimer: (cancel) => (cancel as () => void)(),
    });
    this.cancelTick = ctx.ledger.interval(() => this.tick(), ctx.options.tickMs);
  }

  get closed(): boolean {
    return this._closed;
  }

  get size(): number {
    return this.members.size;
  }

  /** The dominant speaker, for tests. */
  get dominant(): ParticipantId | null {
    return this.speakers.dominant;
  }

  participants(): Participant[] {
    return [...this.members.values()];
  }

  /** Add a participant; it gets `joined` with everyone already announced, the others a batched `participants-changed`. */
  join(identity: Identity, channel: SignalChannel): Participant {
    if (this._closed) throw new ParleyError('NOT_FOUND', 'room closed');
    // The same device joining again (a rejoin after a dropped link whose old session the server has
    // not noticed yet): the old participant goes at once, not when its pcs time out. It is closed
    // once the new one is in, so the room never empties (and closes) in between; the newcomer's
    // snapshot and subscriptions leave it out.
    const replaced = this.participants().filter((o) => o.identity.user === identity.user && o.identity.device === identity.device);
    if (this.members.size - replaced.length >= this.ctx.options.maxParticipants) throw new ParleyError('FORBIDDEN', 'the room is full');
    const id = `p_${randomBytes(9).toString('base64url')}` as ParticipantId;
    const p = new Participant(this.ctx, id, this.id, identity, channel);
    const others = this.participants().filter((o) => !replaced.includes(o));
    this.members.set(id, p);
    this.dirtyLastN();

    p.on('trackpublished', (track) => {
      if (track.kind === 'audio') track.onLevel = (level) => this.speakers.observe(id, level);
      for (const q of this.participants()) if (q !== p) q.subscriber.subscribe(track);
      this.dirtyLastN();
      this.broadcast({ ev: 'track-published', track: track.wire() });
    });
    p.on('trackunpublished', (track) => {
      this.dirtyLastN();
      this.broadcast({ ev: 'track-unpublished', participant: p.id, track: track.id });
    });
    p.on('tiles', () => (this.lastNDirty = true));
    p.on('trackmuted', (track) => this.broadcast({ ev: 'track-muted', participant: p.id, track: track.id, muted: track.muted }));
    p.on('close', () => {
      this.members.delete(id);
      this.speakers.remove(id);
      this.dirtyLastN();
      this.presence.leave(id);
      this.emit('participantleft', p);
    });

    const iceServers = iceServersFor(identity.user, { stunUrls: this.ctx.options.stunUrls, turn: this.ctx.options.turn, extra: this.ctx.options.iceServers });
    const announced = others.filter((o) => !this.presence.isPending(o.id));
    p.send({ ev: 'joined', participant: id, participants: announced.map((o) => o.wire()), iceServers, simulcast: this.ctx.options.simulcast });
    this.presence.join(id, p.wire());
    for (const o of others) for (const track of o.tracks()) p.subscriber.subscribe(track);
    this.emit('participantjoined', p);
    for (const old of replaced) old.close(REJOINED);
    return p;
  }

  /**
   * Membership or tracks changed: recompute last-N soon (batched per turn of the event loop),
   * not at the next tick, so a new track's m-line goes into the subscribers' next offer at once.
   */
  private dirtyLastN(): void {
    this.lastNDirty = true;
    if (this.cancelSoon || this._closed) return;
    this.cancelSoon = this.ctx.ledger.timeout(() => {
      this.cancelSoon = null;
      if (this._closed || !this.lastNDirty) return;
      this.lastNDirty = false;
      this.applyLastN(this.speakers.recent());
    }, 0);
  }

  private announce(joined: RtcParticipantInfo[], left: ParticipantId[]): void {
    // Tracks published since the join was queued are in the info now.
    const fresh = joined.map((info) => this.members.get(info.id as ParticipantId)?.wire() ?? info);
    for (const p of this.members.values()) {
      const mine = fresh.filter((i) => i.id !== p.id);
      if (mine.length > 0 || left.length > 0) p.send({ ev: 'participants-changed', joined: mine, left });
    }
  }

  private broadcast(ev: RtcEvent, except?: Participant): void {
    for (const p of this.members.values()) if (p !== except) p.send(ev);
  }

  private tick(): void {
    if (this._closed) return;
    const now = Date.now();
    this.speakers.tick(now);
    const recent = this.speakers.recent();
    const key = recent.join(',');
    if (key !== this.lastRecent) {
      this.lastRecent = key;
      this.lastNDirty = true;
    }
    if (this.lastNDirty) {
      this.lastNDirty = false;
      this.applyLastN(recent);
    }
    for (const p of this.members.values()) {
      p.subscriber.tick(now);
      for (const t of p.tracks()) t.tick(now);
    }
  }

  private applyLastN(recent: readonly ParticipantId[]): void {
    const { lastN, audioN } = this.ctx.options;
    const all = this.participants();
    const byId = (id: ParticipantId) => this.members.get(id);
    const speakers = recent.map(byId).filter((p): p is Participant => p !== undefined);
    for (const sub of all) {
      const downs = sub.subscriber.downTracks();
      const owners = new Map<ParticipantId, number>();
      for (const d of downs) {
        if (d.tile && d.tileSetAt > 0) owners.set(d.track.info.owner, Math.max(owners.get(d.track.info.owner) ?? 0, d.tile.width * d.tile.height));
      }
      const tiles = [...owners.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([owner]) => byId(owner))
        .filter((p): p is Participant => p !== undefined);
      const pick = selectLastN<Participant, PublishedTrack>(
        {
          subscriber: sub,
          participants: all,
          speakers,
          tiles,
          videoTracks: (p) => p.tracks().filter((t) => t.kind === 'video'),
          audioTracks: (p) => p.tracks().filter((t) => t.kind === 'audio'),
        },
        { n: lastN, audioN },
      );
      // Audio last-N only where it saves something: with few voices, everyone is heard at once.
      const voices = all.filter((p) => p !== sub && p.tracks().some((t) => t.kind === 'audio')).length;
      const want = (d: (typeof downs)[number]) => (d.track.kind === 'video' ? pick.video.has(d.track) : voices <= audioN || pick.audio.has(d.track));
      // Offs first: the m-line slots they free carry the ons (no m-line added for a swap).
      for (const d of downs) if (!want(d)) d.setForwarded(false);
      for (const d of downs) if (want(d)) d.setForwarded(true);
    }
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this.cancelTick();
    this.cancelSoon?.();
    this.cancelSoon = null;
    this.presence.close();
    for (const p of this.participants()) p.close('room closed');
    this.members.clear();
    this.release();
    this.emit('close');
    this.removeAllListeners();
  }
}
