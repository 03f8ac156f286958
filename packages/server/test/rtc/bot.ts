/**
 * A meeting bot for tests: a real Parley WebSocket session plus two werift peer connections on
 * loopback, publishing synthetic Opus-like and VP8-like RTP and recording what it receives.
 */
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, useAudioLevelIndication, useOPUS, useSdesMid, useVP8, type RTCIceCandidate, type RTCPeerConnectionConfig, type RTCRtpTransceiver } from 'werift';
import type { Results, RtcFrame, Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';

export const loopbackPeer: RTCPeerConnectionConfig = {
  codecs: { audio: [useOPUS()], video: [useVP8()] },
  headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()] },
  iceServers: [],
  bundlePolicy: 'max-bundle',
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1' && pair.remoteCandidate.host === '127.0.0.1',
};

/** What arrived on one m-line of the subscribing pc. */
export interface Received {
  mid: string;
  kind: string;
  ssrcs: Set<number>;
  seqs: number[];
  timestamps: number[];
  payloads: Buffer[];
}

export class Bot {
  client!: TestClient;
  participant = '';
  room = '';
  pub: RTCPeerConnection | null = null;
  sub: RTCPeerConnection | null = null;
  /** trackId of each mid of the subscribing pc (from the server's offers). */
  readonly mids = new Map<string, string>();
  readonly received = new Map<string, Received>();
  readonly tracks = { audio: new MediaStreamTrack({ kind: 'audio' }), video: new MediaStreamTrack({ kind: 'video' }) };
  readonly pubTransceivers: RTCRtpTransceiver[] = [];
  plis = 0;
  closed = false;
  /** RFC 6464 level of the audio this bot sends: 0 loudest … 127 silence. */
  level = 127;
  private pumps: NodeJS.Timeout[] = [];
  /** rtc frames are handled one after another, in the order they arrived. */
  private inbox: Promise<void> = Promise.resolve();
  /**
   * `tag`: distinct payload tag per bot, so a receiver can tell whose media it got. `rewrite`: applied
   * to every SDP and ICE candidate this bot sends or receives (e.g. HandshakeProxy.rewrite, to put a
   * proxy on its paths).
   */
  constructor(
    readonly tokens: Tokens,
    readonly tag: number,
    private readonly rewrite: (sdpOrCandidate: string) => Promise<string> = (s) => Promise.resolve(s),
  ) {}

  async connect(url: string): Promise<this> {
    this.client = new TestClient(await connectWs(url, this.tokens.access));
    await this.client.welcome();
    this.client.link.onFrame((f) => {
      if (f.t === 'rtc') {
        this.inbox = this.inbox
          .then(() => this.onRtc(f))
          .catch((err: unknown) => {
            // NOT_FOUND: the participant left (or was closed) while a frame was being handled.
            if (!this.closed && (err as { code?: string }).code !== 'NOT_FOUND') console.error('bot rtc error', err);
          });
      }
    });
    return this;
  }

  rtcFrames(ev?: RtcFrame['ev']): RtcFrame[] {
    return this.client.frames.filter((f): f is RtcFrame => f.t === 'rtc' && (ev === undefined || f.ev === ev));
  }

  async join(room: string): Promise<Results['rtc.join']> {
    const res = await this.client.request<Results['rtc.join']>({ t: 'rtc.join', room });
    this.participant = res.participant;
    this.room = res.room;
    return res;
  }

  private async onRtc(f: RtcFrame): Promise<void> {
    if (f.ev === 'offer') {
      for (const [mid, track] of Object.entries(f.mids)) this.mids.set(mid, track);
      const sub = this.ensureSub();
      await sub.setRemoteDescription({ type: 'offer', sdp: await this.rewrite(f.sdp) });
      if (this.subDtlsServer) for (const t of sub.dtlsTransports) if (t.role === 'auto' && t.state === 'new') t.role = 'server';
      await sub.setLocalDescription(await sub.createAnswer());
      await this.client.request({ t: 'rtc.answer', pc: 'sub', sdp: await this.rewrite(sub.localDescription!.sdp) });
    } else if (f.ev === 'ice' && f.candidate) {
      const pc = f.pc === 'pub' ? this.pub : this.sub;
      const candidate = await this.rewrite(f.candidate.candidate);
      await pc?.addIceCandidate({ candidate, sdpMid: f.candidate.sdpMid ?? undefined, sdpMLineIndex: f.candidate.sdpMLineIndex ?? undefined });
    }
  }

  private ensureSub(): RTCPeerConnection {
    if (this.sub) return this.sub;
    const sub = new RTCPeerConnection(loopbackPeer);
    sub.onIceCandidate.subscribe((c) => this.sendIce('sub', c));
    sub.onRemoteTransceiverAdded.subscribe((tr) => {
      tr.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((p) => {
          const mid = tr.mid ?? '?';
          let r = this.received.get(mid);
          if (!r) this.received.set(mid, (r = { mid, kind: tr.kind, ssrcs: new Set(), seqs: [], timestamps: [], payloads: [] }));
          r.ssrcs.add(p.header.ssrc);
          r.seqs.push(p.header.sequenceNumber);
          r.timestamps.push(p.header.timestamp);
          r.payloads.push(p.payload);
        });
      });
    });
    this.sub = sub;
    return sub;
  }

  /** Publish one audio and one video track (source mic / camera, or screen for a second video); `kinds` to publish fewer. */
  async publish(extraScreen = false, kinds: readonly ('audio' | 'video')[] = ['audio', 'video']): Promise<void> {
    const pub = new RTCPeerConnection(loopbackPeer);
    this.pub = pub;
    pub.onIceCandidate.subscribe((c) => this.sendIce('pub', c));
    const a = kinds.includes('audio') ? pub.addTransceiver(this.tracks.audio, { direction: 'sendonly' }) : null;
    const v = kinds.includes('video') ? pub.addTransceiver(this.tracks.video, { direction: 'sendonly' }) : null;
    for (const tr of [a, v]) if (tr) this.pubTransceivers.push(tr);
    for (const tr of [a, v]) tr?.sender.onPictureLossIndication.subscribe(() => (this.plis += 1));
    const offer = await pub.createOffer();
    await pub.setLocalDescription(offer);
    const tracks = [
      ...(a ? [{ mid: a.mid ?? '0', source: 'mic' as const }] : []),
      ...(v ? [{ mid: v.mid ?? '1', source: extraScreen ? ('screen' as const) : ('camera' as const) }] : []),
    ];
    const res = await this.client.request<Results['rtc.offer']>({ t: 'rtc.offer', pc: 'pub', sdp: await this.rewrite(pub.localDescription!.sdp), tracks });
    /** The SFU's answer as it came, before any rewrite. */
    this.pubAnswer = res.sdp;
    await pub.setRemoteDescription({ type: 'answer', sdp: await this.rewrite(res.sdp) });
  }

  /** Answer the SFU's offers with a=setup:passive: this bot is the DTLS server, the SFU the client. */
  subDtlsServer = false;

  /** The SFU's last answer for the publishing pc. */
  pubAnswer = '';

  private sendIce(pc: 'pub' | 'sub', c: RTCIceCandidate | undefined): void {
    if (!c) return;
    const { sdpMid, sdpMLineIndex } = c;
    void this.rewrite(c.candidate).then((candidate) => {
      if (!this.closed) this.client.link.send({ t: 'rtc.ice', pc, candidate: { candidate, sdpMid: sdpMid ?? null, sdpMLineIndex: sdpMLineIndex ?? null } });
    });
  }

  /** Send RTP on both tracks: audio every 20 ms, video every 33 ms. Payload byte 0 = tag, byte 1 = kind. */
  startMedia(videoMs = 33): void {
    let aSeq = 1000;
    let aTs = 0;
    let vSeq = 50000;
    let vTs = 0;
    const tag = this.tag;
    this.pumps.push(
      setInterval(() => {
        // The audio level goes in the RFC 6464 extension under the id negotiated for it.
        const levelId = this.audioLevelId();
        const extensions = levelId === null ? [] : [{ id: levelId, payload: Buffer.from([(this.level < 127 ? 0x80 : 0) | this.level]) }];
        const header = new RtpHeader({ payloadType: 111, sequenceNumber: aSeq++ & 0xffff, timestamp: (aTs += 960) >>> 0, ssrc: 0x1000 + tag, marker: false, extension: extensions.length > 0, extensions });
        this.tracks.audio.writeRtp(new RtpPacket(header, Buffer.from([tag, 0xaa, 0xfc, 0xff, 0xfe])));
      }, 20),
      setInterval(() => {
        // A VP8 payload descriptor (S=1, PID 0) and a keyframe-looking header.
        this.tracks.video.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: vSeq++ & 0xffff, timestamp: (vTs += 3000) >>> 0, ssrc: 0x2000 + tag, marker: true }), Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a, tag, 0xbb])));
      }, videoMs),
    );
  }

  private audioLevelId(): number | null {
    const tr = this.pubTransceivers.find((t) => t.kind === 'audio');
    const exts = (tr?.sender as unknown as { headerExtensions?: { id: number; uri: string }[] } | undefined)?.headerExtensions ?? [];
    return exts.find((e) => e.uri === 'urn:ietf:params:rtp-hdrext:ssrc-audio-level')?.id ?? null;
  }

  stopMedia(): void {
    for (const t of this.pumps.splice(0)) clearInterval(t);
  }

  /** Streams received, as [trackId, Received]. */
  streams(): [string, Received][] {
    return [...this.received.entries()].map(([mid, r]) => [this.mids.get(mid) ?? `mid:${mid}`, r]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopMedia();
    this.client.close();
    await Promise.allSettled([this.pub?.close(), this.sub?.close()]);
  }
}

export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** True when every step between consecutive sequence numbers is +1 (mod 2^16). */
export function gaps(seqs: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < seqs.length; i++) if ((((seqs[i] ?? 0) - (seqs[i - 1] ?? 0)) & 0xffff) !== 1) n += 1;
  return n;
}
