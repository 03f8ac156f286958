/**
 * One participation in a meeting room, the browser side of docs/meetings.md: the signaling over the
 * SDK's session (`rtc.*` commands out, `rtc` frames in through the client's `frame` event), one
 * publishing RTCPeerConnection (`pub`: this page offers) and one subscribing (`sub`: the server
 * offers), trickle ICE both ways, and the map from the subscribing pc's m-lines to the other
 * participants' tracks.
 *
 * Ownership: the session owns both pcs, the local media stream it was given and every listener it
 * added; `leave()` / a server `closed` frame / a lost connection frees all of them (idempotent).
 *
 * Ordering: every change of a pc runs on that pc's queue, so a server ICE candidate is applied only
 * after the description it belongs to, and local candidates wait until the server has seen the
 * description they belong to (the server has no pc 'pub' before the first offer).
 */
import { Emitter, type Client, type IceCandidateInfo, type PcRole, type RtcFrame, type RtcParticipantInfo, type RtcTrackInfo, type ServerFrame, type TrackSource, type UserId } from '@parley/client';

export type MeetingState = 'joining' | 'joined' | 'closed';

export interface Participant {
  id: string;
  user: UserId;
  tracks: Map<string, RtcTrackInfo>;
}

export interface MeetingEvents {
  /** Participants, tracks, mutes or local media changed: re-render. */
  change: undefined;
  /** The active speaker (a participant id, or `me`), or null for silence. */
  speaker: string | null;
  /** The participation ended; `reason` is null for a leave of our own. */
  closed: { reason: string | null };
}

/** Remote media of one participant, by source. */
export type RemoteMedia = Partial<Record<TrackSource, MediaStreamTrack>>;

type Transceivers = Partial<Record<TrackSource, RTCRtpTransceiver>>;

/** Audio level (0..1, from getStats) above which a participant counts as speaking. */
const SPEAKING_LEVEL = 0.02;
/** How long the highlight stays after the level drops (ms), so that it does not flicker between words. */
const SPEAKER_HOLD_MS = 1200;
const LEVEL_POLL_MS = 300;
/** Small, cheap video: meetings in this version send one layer (simulcast is issue 7). */
const VIDEO_MAX_BITRATE = 300_000;

export class MeetingSession {
  readonly events = new Emitter<MeetingEvents>((err) => reportError(err));
  state: MeetingState = 'joining';
  /** The conversation id of the room (known once joined; a link token resolves to it). */
  room: string | null = null;
  /** My participant id. */
  participantId: string | null = null;
  pub: RTCPeerConnection | null = null;
  sub: RTCPeerConnection | null = null;
  readonly participants = new Map<string, Participant>();
  /** My published tracks (ids from `track-published`). */
  readonly myTracks = new Map<string, RtcTrackInfo>();
  /** The subscribing pc's m-lines: mid -> track id (from the server's latest offer). */
  mids: Record<string, string> = {};
  readonly muted = { audio: false, video: false };
  screen: MediaStreamTrack | null = null;
  speaker: string | null = null;

  private iceServers: RTCIceServer[] = [];
  private readonly tx: Transceivers = {};
  private readonly queues: Record<PcRole, Promise<void>> = { pub: Promise.resolve(), sub: Promise.resolve() };
  private readonly localIce: Record<PcRole, RTCIceCandidateInit[] | null> = { pub: [], sub: [] };
  private readonly offs: (() => void)[] = [];
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private speakerUntil = 0;

  constructor(
    private readonly client: Client,
    /** What to join: a conversation id or a meeting-link token. */
    readonly target: string,
    /** The camera and microphone chosen before joining (owned by the session from now on). */
    readonly media: MediaStream | null,
    initial: { audioMuted: boolean; videoMuted: boolean },
  ) {
    this.muted.audio = initial.audioMuted;
    this.muted.video = initial.videoMuted;
    for (const t of media?.getAudioTracks() ?? []) t.enabled = !initial.audioMuted;
    for (const t of media?.getVideoTracks() ?? []) t.enabled = !initial.videoMuted;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Join the room and publish the local media. Rejects with the server's error (e.g. NOT_MEMBER). */
  async join(): Promise<void> {
    this.offs.push(this.client.on('frame', (f) => this.onFrame(f)));
    this.offs.push(
      this.client.on('state', ({ state }) => {
        // The server ends a participation with its session; a new session cannot take it over.
        if (state !== 'connected') this.close('The connection to the server was lost.');
      }),
    );
    let res: { room: string; participant: string };
    try {
      res = await this.client.request({ t: 'rtc.join', room: this.target });
    } catch (err) {
      this.close(null, false);
      throw err;
    }
    if (this.closed) return;
    this.room = res.room;
    this.participantId = res.participant;
    this.state = 'joined';
    this.levelTimer = setInterval(() => void this.pollLevels(), LEVEL_POLL_MS);
    this.events.emit('change', undefined);
    const mic = this.media?.getAudioTracks()[0];
    const camera = this.media?.getVideoTracks()[0];
    if (mic || camera) {
      const pc = this.ensurePub();
      const streams = this.media ? [this.media] : [];
      if (mic) this.tx.mic = pc.addTransceiver(mic, { direction: 'sendonly', streams });
      if (camera) this.tx.camera = pc.addTransceiver(camera, { direction: 'sendonly', streams, sendEncodings: [{ maxBitrate: VIDEO_MAX_BITRATE }] });
      await this.negotiatePub();
      if (this.muted.audio && mic) await this.tellMuted('audio', true);
      if (this.muted.video && camera) await this.tellMuted('video', true);
    }
  }

  // --- signaling in ---

  private onFrame(f: ServerFrame): void {
    if (f.t !== 'rtc' || this.closed) return;
    if (f.ev === 'joined') {
      // Arrives before the join's result; the room of a link is its conversation.
      this.room = f.room;
      this.participantId = f.participant;
      this.iceServers = f.iceServers.map((s) => ({ urls: s.urls, ...(s.username ? { username: s.username } : {}), ...(s.credential ? { credential: s.credential } : {}) }));
      for (const p of f.participants) this.addParticipant(p);
      this.events.emit('change', undefined);
      return;
    }
    if (this.room !== null && f.room !== this.room) return;
    this.handle(f);
  }

  private handle(f: RtcFrame): void {
    switch (f.ev) {
      case 'participant-joined':
        this.addParticipant(f.participant);
        break;
      case 'participant-left':
        this.participants.delete(f.participant);
        break;
      case 'track-published':
        if (f.track.participant === this.participantId) this.myTracks.set(f.track.id, f.track);
        else this.participants.get(f.track.participant)?.tracks.set(f.track.id, f.track);
        break;
      case 'track-unpublished':
        this.myTracks.delete(f.track);
        this.participants.get(f.participant)?.tracks.delete(f.track);
        break;
      case 'track-muted': {
        const t = this.participants.get(f.participant)?.tracks.get(f.track) ?? this.myTracks.get(f.track);
        if (t) t.muted = f.muted;
        break;
      }
      case 'offer':
        this.onOffer(f.sdp, f.mids);
        return;
      case 'ice':
        this.onRemoteIce(f.pc, f.candidate);
        return;
      case 'closed':
        this.close(`The meeting ended for you: ${f.reason}.`, false);
        return;
      case 'joined':
        return;
    }
    this.events.emit('change', undefined);
  }

  private addParticipant(p: RtcParticipantInfo): void {
    this.participants.set(p.id, { id: p.id, user: p.user, tracks: new Map(p.tracks.map((t) => [t.id, { ...t }])) });
  }

  /** The server's offer for the subscribing pc: answer it, then bind the m-lines to tracks. */
  private onOffer(sdp: string, mids: Record<string, string>): void {
    this.run('sub', async () => {
      const pc = this.ensureSub();
      this.mids = { ...mids }; // before: ontrack fires while the offer is applied
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await this.client.request({ t: 'rtc.answer', pc: 'sub', sdp: pc.localDescription?.sdp ?? '' });
      this.flushLocalIce('sub');
      this.events.emit('change', undefined);
    });
  }

  private onRemoteIce(role: PcRole, c: IceCandidateInfo | null): void {
    // werift also lists its candidates in the SDP; an end-of-candidates marker needs nothing here.
    if (c === null || c.candidate === '') return;
    this.run(role, async () => {
      const pc = role === 'pub' ? this.pub : this.sub;
      if (!pc) return;
      await pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null }).catch(() => {});
    });
  }

  /** Run `job` after every earlier change of the same pc; a failure ends the participation. */
  private run(role: PcRole, job: () => Promise<void>): Promise<void> {
    const next = this.queues[role].then(async () => {
      if (!this.closed) await job();
    });
    this.queues[role] = next.catch((err: unknown) => {
      if (!this.closed) this.close(`Media negotiation failed (${String((err as Error)?.message ?? err)}).`);
    });
    return next;
  }

  // --- peer connections ---

  private newPc(role: PcRole): RTCPeerConnection {
    // 'balanced' for the subscribing pc: when its last track goes, werift offers only rejected
    // m-lines and (rightly) no BUNDLE group, which Chromium refuses under 'max-bundle'. The server
    // bundles every offer that has media, so the answer bundles anyway.
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: role === 'pub' ? 'max-bundle' : 'balanced', rtcpMuxPolicy: 'require' });
    pc.onicecandidate = (e) => {
      if (!e.candidate || e.candidate.candidate === '') return;
      const c = e.candidate.toJSON();
      const queued = this.localIce[role];
      if (queued) queued.push(c);
      else this.sendIce(role, c);
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.close('The media connection failed.');
      this.events.emit('change', undefined);
    };
    if (role === 'sub') pc.ontrack = () => this.events.emit('change', undefined);
    return pc;
  }

  private ensurePub(): RTCPeerConnection {
    return (this.pub ??= this.newPc('pub'));
  }

  private ensureSub(): RTCPeerConnection {
    return (this.sub ??= this.newPc('sub'));
  }

  private sendIce(role: PcRole, c: RTCIceCandidateInit): void {
    if (this.closed) return;
    this.client
      .request({ t: 'rtc.ice', pc: role, candidate: { candidate: c.candidate ?? '', sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null, usernameFragment: c.usernameFragment ?? null } })
      .catch(() => {});
  }

  private flushLocalIce(role: PcRole): void {
    const queued = this.localIce[role];
    if (!queued) return;
    this.localIce[role] = null;
    for (const c of queued) this.sendIce(role, c);
  }

  /** Offer what the publishing pc sends now; the answer comes back as the command's result. */
  private negotiatePub(): Promise<void> {
    return this.run('pub', async () => {
      const pc = this.ensurePub();
      await pc.setLocalDescription(await pc.createOffer());
      const tracks: { mid: string; source: TrackSource }[] = [];
      for (const [source, t] of Object.entries(this.tx) as [TrackSource, RTCRtpTransceiver][]) {
        if (t.mid !== null && t.direction === 'sendonly') tracks.push({ mid: t.mid, source });
      }
      const res = await this.client.request({ t: 'rtc.offer', pc: 'pub', sdp: pc.localDescription?.sdp ?? '', tracks });
      if (this.closed) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: res.sdp });
      this.flushLocalIce('pub');
    });
  }

  // --- what the UI does ---

  /** Mute or unmute my microphone (`audio`) or camera (`video`). */
  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    if (this.closed) return;
    this.muted[kind] = muted;
    const track = kind === 'audio' ? this.tx.mic?.sender.track : this.tx.camera?.sender.track;
    if (track) track.enabled = !muted;
    this.events.emit('change', undefined);
    if (this.state === 'joined') await this.tellMuted(kind, muted);
  }

  private async tellMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    // Only the camera: the screen share is a video track too, and stays on.
    const source: TrackSource = kind === 'audio' ? 'mic' : 'camera';
    const track = [...this.myTracks.values()].find((t) => t.source === source);
    await this.client.request({ t: 'rtc.mute', kind, muted, ...(track ? { track: track.id } : {}) }).catch(() => {});
  }

  /** Share a screen (a second video track). Rejects when the user cancels the picker. */
  async startScreenShare(): Promise<void> {
    if (this.closed || this.screen) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { max: 10 }, width: { max: 1280 }, height: { max: 720 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    if (this.closed) {
      track.stop();
      return;
    }
    this.screen = track;
    track.addEventListener('ended', () => void this.stopScreenShare());
    track.contentHint = 'detail';
    const pc = this.ensurePub();
    // One m-line for the screen, reused for every share: stopping sets it inactive, which the
    // server reads as "unpublished", and keeps the SDP from growing with each share.
    const t = this.tx.screen;
    if (t) {
      await t.sender.replaceTrack(track);
      t.direction = 'sendonly';
    } else {
      this.tx.screen = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings: [{ maxBitrate: VIDEO_MAX_BITRATE }] });
    }
    this.events.emit('change', undefined);
    await this.negotiatePub();
  }

  async stopScreenShare(): Promise<void> {
    const track = this.screen;
    if (!track) return;
    this.screen = null;
    track.stop();
    this.events.emit('change', undefined);
    const t = this.tx.screen;
    if (!t || this.closed) return;
    await t.sender.replaceTrack(null);
    t.direction = 'inactive';
    await this.negotiatePub();
  }

  /** The remote tracks of a participant, by source (only m-lines the server says carry its tracks). */
  remoteMedia(participant: string): RemoteMedia {
    const out: RemoteMedia = {};
    const p = this.participants.get(participant);
    if (!p || !this.sub) return out;
    for (const t of this.sub.getTransceivers()) {
      if (t.mid === null || t.currentDirection === 'inactive' || t.currentDirection === 'stopped') continue;
      const id = this.mids[t.mid];
      const info = id ? p.tracks.get(id) : undefined;
      if (info) out[info.source] = t.receiver.track;
    }
    return out;
  }

  /** Track info of a participant's source (mute state), if published. */
  trackOf(participant: string, source: TrackSource): RtcTrackInfo | undefined {
    const tracks = participant === this.participantId ? this.myTracks : this.participants.get(participant)?.tracks;
    return [...(tracks?.values() ?? [])].find((t) => t.source === source);
  }

  // --- active speaker ---

  /** Audio levels from getStats: inbound audio of the subscribing pc, the microphone's media source. */
  private async pollLevels(): Promise<void> {
    if (this.closed) return;
    let best: string | null = null;
    let bestLevel = SPEAKING_LEVEL;
    if (this.sub) {
      const stats = await this.sub.getStats().catch(() => null);
      stats?.forEach((s: { type: string; kind?: string; mid?: string; audioLevel?: number }) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio' || s.mid === undefined) return;
        const id = this.mids[s.mid];
        const owner = [...this.participants.values()].find((p) => id !== undefined && p.tracks.has(id));
        const level = s.audioLevel ?? 0;
        if (owner && level > bestLevel && !owner.tracks.get(id as string)?.muted) {
          best = owner.id;
          bestLevel = level;
        }
      });
    }
    if (this.pub && !this.muted.audio) {
      const stats = await this.pub.getStats().catch(() => null);
      stats?.forEach((s: { type: string; kind?: string; audioLevel?: number }) => {
        if (s.type === 'media-source' && s.kind === 'audio' && (s.audioLevel ?? 0) > bestLevel) {
          best = 'me';
          bestLevel = s.audioLevel ?? 0;
        }
      });
    }
    if (this.closed) return;
    const now = Date.now();
    if (best === null && now < this.speakerUntil) return;
    if (best !== null) this.speakerUntil = now + SPEAKER_HOLD_MS;
    if (best !== this.speaker) {
      this.speaker = best;
      this.events.emit('speaker', best);
    }
  }

  // --- the end ---

  /** Leave the room (tells the server) and free everything. */
  leave(): void {
    this.close(null);
  }

  private close(reason: string | null, tellServer = true): void {
    if (this.closed) return;
    const wasJoined = this.state === 'joined';
    this.state = 'closed';
    for (const off of this.offs.splice(0)) off();
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
    if (tellServer && wasJoined) this.client.request({ t: 'rtc.leave' }).catch(() => {});
    this.pub?.close();
    this.sub?.close();
    this.screen?.stop();
    this.screen = null;
    for (const t of this.media?.getTracks() ?? []) t.stop();
    this.events.emit('closed', { reason });
  }
}

function reportError(err: unknown): void {
  window.dispatchEvent(new ErrorEvent('error', { error: err, message: String(err) }));
}
