/**
 * One participation in a meeting room, the browser side of docs/meetings.md: the signaling over the
 * SDK's session (`rtc.*` commands out, `rtc` frames in through the client's `frame` event), one
 * publishing RTCPeerConnection (`pub`: this page offers) and one subscribing (`sub`: the server
 * offers), trickle ICE both ways, and the map from the subscribing pc's m-lines to the other
 * participants' tracks.
 *
 * Ownership: the session owns both pcs, the local media stream it was given and every listener it
 * added; `leave()`, or giving up on rejoining, frees all of them (idempotent).
 *
 * Recovery (rejoin.ts): a failed pc, a pc 'disconnected' for a few seconds, a server `closed` frame
 * for a failed pc, or a lost Parley link drops both pcs but keeps the local media and the screen, and
 * the session rejoins by itself (state `reconnecting`, bounded attempts with backoff). Each
 * participation is an epoch: work queued for an earlier one is dropped, and rtc frames count only
 * from the new participation's `joined` on.
 *
 * Ordering: every change of a pc runs on that pc's queue, so a server ICE candidate is applied only
 * after the description it belongs to, and local candidates wait until the server has seen the
 * description they belong to (the server has no pc 'pub' before the first offer).
 */
import { Emitter, type Client, type ConnectionState, type IceCandidateInfo, type PcRole, type RtcFrame, type RtcParticipantInfo, type RtcTrackInfo, type ServerFrame, type TrackSource, type UserId } from '@parley/client';

import { loudest } from './levels.ts';
import { defaultRejoinPolicy, isPermanent, isRecoverable, rejoin, type RejoinPolicy } from './rejoin.ts';
import { TileSizes } from './tiles.ts';
import { pause, waitForLink } from './waits.ts';

export type MeetingState = 'joining' | 'joined' | 'reconnecting' | 'closed';

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
/** A screen share: one layer. */
const VIDEO_MAX_BITRATE = 300_000;
/**
 * The camera goes out as simulcast layers (rid h, f: ½ and full size of the 640×360 camera; add
 * `{rid: 'q', scaleResolutionDownBy: 4}` first for a camera of 960×540 or more, below which Chromium
 * drops the top layer instead). The SFU forwards each subscriber the layer that fits its tile and
 * bandwidth, and pauses layers nobody watches.
 */
const CAMERA_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 150_000 },
  { rid: 'f', maxBitrate: 500_000 },
];

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
  /** The room's dominant speaker as the SFU ranks it (RFC 6464 levels, smoothed): a participant id, or `me`. */
  dominantSpeaker: string | null = null;
  /** While `reconnecting`: why the last participation broke, and the attempt under way (0: not started). */
  reconnect: { reason: string; attempt: number } | null = null;
  /** Rejoins that succeeded (for tests and diagnostics). */
  rejoins = 0;
  /** What recovery did, oldest first, with seconds since the session started: why each participation broke, each attempt's end. */
  readonly recoveryLog: string[] = [];
  private readonly started = Date.now();

  private iceServers: RTCIceServer[] = [];
  /** The server's `simulcast` option (from `joined`): publish the camera as layers. */
  private simulcast = true;
  private readonly tx: Transceivers = {};
  private readonly tiles = new TileSizes();
  private readonly queues: Record<PcRole, Promise<void>> = { pub: Promise.resolve(), sub: Promise.resolve() };
  private readonly localIce: Record<PcRole, RTCIceCandidateInit[] | null> = { pub: [], sub: [] };
  private readonly offs: (() => void)[] = [];
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private speakerUntil = 0;
  /** The participation: bumped when its pcs are dropped; queued work of an older one is skipped. */
  private epoch = 0;
  /** The server holds a participation whose frames we read (from its `joined` until it broke). */
  private live = false;
  /** `rtc.join`s on their way: the `joined` frame of one arrives before its result. */
  private joinsPending = 0;
  /** Fails the rejoin attempt under way (a pc failed, the link dropped). */
  private interrupt: (() => void) | null = null;
  private disconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the last rejoin succeeded, and its attempt count (an outage soon after continues it). */
  private recovered = { at: 0, attempts: 0 };

  constructor(
    private readonly client: Client,
    /** What to join: a conversation id or a meeting-link token. */
    readonly target: string,
    /** The camera and microphone chosen before joining (owned by the session from now on). */
    readonly media: MediaStream | null,
    initial: { audioMuted: boolean; videoMuted: boolean },
    private readonly policy: RejoinPolicy = defaultRejoinPolicy,
  ) {
    this.muted.audio = initial.audioMuted;
    this.muted.video = initial.videoMuted;
    for (const t of media?.getAudioTracks() ?? []) t.enabled = !initial.audioMuted;
    for (const t of media?.getVideoTracks() ?? []) t.enabled = !initial.videoMuted;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Join the room and publish the local media. Rejects with the server's error (e.g. NOT_MEMBER);
   * once joined, a broken participation rejoins by itself and `closed` fires only when that gives up.
   */
  async join(): Promise<void> {
    this.offs.push(this.client.on('frame', (f) => this.onFrame(f)));
    this.offs.push(this.client.on('state', ({ state }) => this.onLink(state)));
    const epoch = this.epoch;
    try {
      await this.enter(epoch);
    } catch (err) {
      this.close(null, false);
      throw err;
    }
    if (this.closed || epoch !== this.epoch) return;
    this.state = 'joined';
    this.levelTimer = setInterval(() => void this.pollLevels(), LEVEL_POLL_MS);
    this.events.emit('change', undefined);
    // A failure from here on is a broken participation: run()'s handler starts the rejoin.
    await this.publish(epoch).catch(() => {});
  }

  /** `rtc.join` (on the server, it also leaves a participation this session still holds). */
  private async enter(epoch: number): Promise<void> {
    this.joinsPending++;
    let res: { room: string; participant: string };
    try {
      res = await this.client.request({ t: 'rtc.join', room: this.target });
    } finally {
      this.joinsPending--;
    }
    if (this.closed || epoch !== this.epoch) return;
    this.room = res.room;
    this.participantId = res.participant;
  }

  /** Send the camera, microphone and screen (if shared) on a new publishing pc. */
  private async publish(epoch: number): Promise<void> {
    const mic = this.media?.getAudioTracks()[0];
    const camera = this.media?.getVideoTracks()[0];
    if (this.closed || epoch !== this.epoch || (!mic && !camera && !this.screen)) return;
    const pc = this.ensurePub();
    const streams = this.media ? [this.media] : [];
    if (mic) this.tx.mic = pc.addTransceiver(mic, { direction: 'sendonly', streams });
    const layers = this.simulcast ? CAMERA_LAYERS.map((e) => ({ ...e })) : [{ maxBitrate: VIDEO_MAX_BITRATE }];
    if (camera) this.tx.camera = pc.addTransceiver(camera, { direction: 'sendonly', streams, sendEncodings: layers });
    if (this.screen) this.tx.screen = pc.addTransceiver(this.screen, { direction: 'sendonly', sendEncodings: [{ maxBitrate: VIDEO_MAX_BITRATE }] });
    await this.negotiatePub();
    if (this.muted.audio && mic) await this.tellMuted('audio', true);
    if (this.muted.video && camera) await this.tellMuted('video', true);
  }

  // --- signaling in ---

  private onFrame(f: ServerFrame): void {
    if (f.t !== 'rtc' || this.closed) return;
    if (f.ev === 'joined') {
      // A `joined` for a join we gave up on (timed out) is stale: the next join replaces it.
      if (this.joinsPending === 0) return;
      // Arrives before the join's result; the room of a link is its conversation. After a rejoin
      // the snapshot replaces the participants kept on screen meanwhile.
      this.room = f.room;
      this.participantId = f.participant;
      this.live = true;
      this.iceServers = f.iceServers.map((s) => ({ urls: s.urls, ...(s.username ? { username: s.username } : {}), ...(s.credential ? { credential: s.credential } : {}) }));
      this.participants.clear();
      for (const p of f.participants) this.addParticipant(p);
      this.simulcast = f.simulcast !== false;
      this.resendTiles();
      this.events.emit('change', undefined);
      return;
    }
    // Frames of a participation that broke (e.g. its `closed`, sent before our rejoin) are stale.
    if (!this.live || (this.room !== null && f.room !== this.room)) return;
    this.handle(f);
  }

  private handle(f: RtcFrame): void {
    switch (f.ev) {
      case 'participants-changed':
        for (const p of f.joined) this.addParticipant(p);
        for (const id of f.left) this.participants.delete(id);
        break;
      case 'speaker':
        this.dominantSpeaker = f.participant === this.participantId ? 'me' : f.participant;
        break;
      case 'layers':
        this.onLayers(f.track, f.active);
        return;
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
        this.live = false;
        if (isRecoverable(f.reason)) this.broke(`The meeting ended for you: ${f.reason}.`);
        else this.close(`The meeting ended for you: ${f.reason}.`, false);
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

  /** Run `job` after every earlier change of the same pc (of this participation); a failure breaks it. */
  private run(role: PcRole, job: () => Promise<void>): Promise<void> {
    const epoch = this.epoch;
    const next = this.queues[role].then(async () => {
      if (!this.closed && epoch === this.epoch) await job();
    });
    this.queues[role] = next.catch((err: unknown) => {
      if (!this.closed && epoch === this.epoch) this.broke(`Media negotiation failed (${String((err as Error)?.message ?? err)}).`);
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
      if (pc !== this.pub && pc !== this.sub) return; // dropped by a rejoin
      const state = pc.connectionState;
      if (state === 'failed') this.broke('The media connection failed.');
      else if (state === 'disconnected') this.watchDisconnected(pc);
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

  /** ICE may come back from 'disconnected' by itself; after `disconnectedMs` it counts as failed. */
  private watchDisconnected(pc: RTCPeerConnection): void {
    if (this.disconnectTimer) return;
    this.disconnectTimer = setTimeout(() => {
      this.disconnectTimer = null;
      if (this.closed || (pc !== this.pub && pc !== this.sub)) return;
      const still = [this.pub, this.sub].find((p) => p && (p.connectionState === 'disconnected' || p.connectionState === 'failed'));
      if (still) this.broke('The media connection was lost.');
    }, this.policy.disconnectedMs);
  }

  private sendIce(role: PcRole, c: RTCIceCandidateInit): void {
    if (this.closed || !this.live) return;
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
      const epoch = this.epoch;
      const res = await this.client.request({ t: 'rtc.offer', pc: 'pub', sdp: pc.localDescription?.sdp ?? '', tracks });
      if (this.closed || epoch !== this.epoch) return;
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
    // While rejoining, the next participation publishes with the current mute state.
    if (this.live) await this.tellMuted(kind, muted);
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
    if (!this.live) {
      // Rejoining: the next participation publishes it.
      this.events.emit('change', undefined);
      return;
    }
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
    if (!t || this.closed || !this.live) return;
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

  /**
   * The size (CSS pixels) at which this page shows a remote video track; the SFU is told (tiles.ts)
   * and picks the simulcast layer to match. While rejoining it is kept for the next participation.
   */
  setTileSize(trackId: string, width: number, height: number): void {
    if (this.closed) return;
    const size = this.tiles.set(trackId, width, height);
    if (size && this.live) this.tellTile(trackId, size);
  }

  private tellTile(track: string, { w, h }: { w: number; h: number }): void {
    this.client.request({ t: 'rtc.layer', track, width: w, height: h }).catch(() => {});
  }

  /** A new participation (a rejoin): the tiles on screen did not change, so tell the SFU their sizes again. */
  private resendTiles(): void {
    const shown = (track: string) => [...this.participants.values()].some((p) => p.tracks.has(track));
    for (const [track, size] of this.tiles.all(shown)) this.tellTile(track, size);
  }

  /** The SFU says which simulcast layers of my camera someone watches: encode and send only those. */
  private onLayers(trackId: string, active: Record<string, boolean>): void {
    const tr = this.tx.camera;
    if (!tr || this.myTracks.get(trackId)?.source !== 'camera') return;
    this.run('pub', async () => {
      const params = tr.sender.getParameters();
      let changed = false;
      for (const e of params.encodings) {
        const want = e.rid === undefined ? true : active[e.rid] !== false;
        if (e.active !== want) {
          e.active = want;
          changed = true;
        }
      }
      if (changed) await tr.sender.setParameters(params);
    });
  }

  // --- active speaker ---

  /** Audio levels from getStats: inbound audio of the subscribing pc, the microphone's media source. */
  private async pollLevels(): Promise<void> {
    if (this.closed) return;
    const best = await loudest(this.sub, this.muted.audio ? null : this.pub, (mid) => this.ownerOf(mid), SPEAKING_LEVEL);
    if (this.closed) return;
    const now = Date.now();
    if (best === null && now < this.speakerUntil) return;
    if (best !== null) this.speakerUntil = now + SPEAKER_HOLD_MS;
    if (best !== this.speaker) {
      this.speaker = best;
      this.events.emit('speaker', best);
    }
  }

  /** The participant whose unmuted track a subscribing m-line carries. */
  private ownerOf(mid: string): string | null {
    const id = this.mids[mid];
    if (id === undefined) return null;
    for (const p of this.participants.values()) if (p.tracks.has(id)) return p.tracks.get(id)?.muted ? null : p.id;
    return null;
  }

  // --- recovery ---

  /** The Parley link changed. The server ends a participation with its session: a new session must rejoin. */
  private onLink(state: ConnectionState): void {
    if (state === 'connected' || this.closed) return; // a rejoin waiting for the link sees it itself
    this.live = false;
    if (state === 'closed' || state === 'unauthorized' || this.state === 'joining') {
      this.close('The connection to the server was lost.', false);
      return;
    }
    this.broke('The connection to the server was lost.');
  }

  /** The participation broke: rejoin, or fail the rejoin attempt under way (its loop retries). */
  private broke(reason: string): void {
    if (this.closed) return;
    if (this.state === 'joining') return this.close(reason);
    if (this.state === 'reconnecting') {
      this.interrupt?.();
      return;
    }
    void this.recover(reason);
  }

  private async recover(reason: string): Promise<void> {
    this.note(`broke: ${reason}`);
    this.state = 'reconnecting';
    this.reconnect = { reason, attempt: 0 };
    this.drop();
    this.events.emit('change', undefined);
    // A rejoin that did not last continues its outage's count: a pc that fails at once ends at the bound.
    const first = Date.now() - this.recovered.at < this.policy.stableMs ? this.recovered.attempts + 1 : 1;
    const onStop = (fn: () => void) => this.events.on('closed', fn);
    const out = await rejoin(this.policy, {
      link: (ms) => waitForLink(this.client, ms, onStop),
      attempt: (n) => this.attempt(n),
      sleep: (ms) => pause(ms, onStop),
      cancelled: () => this.closed,
    }, first);
    if (this.closed) return;
    this.note(out.ok ? `rejoined (attempt ${out.attempts})` : `gave up: ${out.why}`);
    if (out.ok) {
      this.state = 'joined';
      this.reconnect = null;
      this.rejoins++;
      this.recovered = { at: Date.now(), attempts: out.attempts };
      this.events.emit('change', undefined);
      return;
    }
    const why = out.why === 'link' ? 'The connection to the server was lost.' : out.why === 'refused' ? `Could not rejoin the meeting: ${String((out.error as Error)?.message ?? out.error)}.` : reason;
    this.close(why);
  }

  /** One rejoin: a new participation with the same tracks; true once its pcs connect. */
  private async attempt(n: number): Promise<boolean> {
    this.drop();
    const epoch = this.epoch;
    if (this.reconnect) this.reconnect.attempt = n;
    this.events.emit('change', undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<boolean>((resolve) => {
      this.interrupt = () => resolve(false);
      timer = setTimeout(() => resolve(false), this.policy.connectTimeoutMs);
    });
    const joined = (async () => {
      await this.enter(epoch);
      await this.publish(epoch);
      return this.mediaUp(epoch);
    })();
    joined.catch(() => {}); // when `failed` wins the race
    try {
      const ok = await Promise.race([joined, failed]);
      if (!ok) this.note(`attempt ${n} failed (pcs: ${this.pub?.connectionState ?? '-'}/${this.sub?.connectionState ?? '-'})`);
      return ok;
    } catch (err) {
      this.note(`attempt ${n}: ${String((err as Error)?.message ?? err)}`);
      if (isPermanent(err)) throw err;
      return false;
    } finally {
      this.interrupt = null;
      clearTimeout(timer);
    }
  }

  /** Resolves true when every pc of participation `epoch` is connected (at once without media); false when it broke. */
  private mediaUp(epoch: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.closed || epoch !== this.epoch) return done(false);
        const pcs = [this.pub, this.sub].filter((pc): pc is RTCPeerConnection => pc !== null);
        if (pcs.some((pc) => pc.connectionState === 'failed')) return done(false);
        if (pcs.every((pc) => pc.connectionState === 'connected')) done(true);
      };
      const off = this.events.on('change', check);
      const offClosed = this.events.on('closed', () => done(false));
      const done = (ok: boolean) => {
        off();
        offClosed();
        resolve(ok);
      };
      check();
    });
  }

  private note(what: string): void {
    this.recoveryLog.push(`${((Date.now() - this.started) / 1000).toFixed(1)} s ${what}`);
  }

  /**
   * Drop the pcs of the participation that broke (a new `rtc.join` replaces it on the server). The
   * local media, the screen share and the others' tiles stay until the new `joined` arrives.
   */
  private drop(): void {
    this.epoch++;
    this.live = false;
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    const { pub, sub } = this;
    this.pub = null;
    this.sub = null;
    pub?.close();
    sub?.close();
    for (const k of Object.keys(this.tx) as TrackSource[]) delete this.tx[k];
    this.queues.pub = Promise.resolve();
    this.queues.sub = Promise.resolve();
    this.localIce.pub = [];
    this.localIce.sub = [];
    this.mids = {};
    this.myTracks.clear();
    this.dominantSpeaker = null;
  }

  // --- the end ---

  /** Leave the room (tells the server) and free everything. */
  leave(): void {
    this.close(null);
  }

  private close(reason: string | null, tellServer = true): void {
    if (this.closed) return;
    this.state = 'closed';
    this.live = false;
    this.reconnect = null;
    for (const off of this.offs.splice(0)) off();
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    this.interrupt?.();
    // Also while rejoining: a join may be on its way. Without a room the server answers {} anyway.
    if (tellServer) this.client.request({ t: 'rtc.leave' }).catch(() => {});
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
