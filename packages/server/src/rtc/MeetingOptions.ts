/**
 * Meeting options (the `meetings` block of the node options), merged once as { ...defaults, ...given }.
 * docs/meetings.md lists them with their defaults.
 */
import type { IceServerInfo } from '@parley/protocol';
import {
  useAbsSendTime,
  useAudioLevelIndication,
  useNACK,
  useOPUS,
  usePLI,
  useREMB,
  useRepairedRtpStreamId,
  useSdesMid,
  useSdesRTPStreamId,
  useTransportWideCC,
  useTWCC,
  useVP8,
  type RTCPeerConnectionConfig,
} from 'werift';
import type { TurnOptions } from './turn.ts';

/** One end of an ICE candidate pair, as the candidate-pair filter sees it. */
export interface CandidateEnd {
  host: string;
  port: number;
  /** 'host' | 'srflx' | 'relay' | 'prflx' */
  type: string;
}

export interface MeetingOptions {
  /** Serve `rtc.*` and `call.*` at all. Default true. */
  enabled: boolean;
  /** Local addresses the SFU's ICE sockets bind to, e.g. { udp4: '127.0.0.1' }. Default: all interfaces. */
  iceInterfaces: { udp4?: string; udp6?: string } | null;
  /** Extra host candidates to offer (e.g. '127.0.0.1', or a public address behind 1:1 NAT). Default []. */
  hostAddresses: string[];
  /** Keep only candidate pairs this accepts (e.g. loopback only in tests). Default: all pairs. */
  candidatePairFilter: ((local: CandidateEnd, remote: CandidateEnd) => boolean) | null;
  /** UDP port range for the SFU's ICE sockets, [min, max]. Default: any port. */
  icePortRange: [number, number] | null;
  /** Gather IPv6 candidates too. Default true. */
  ipv6: boolean;
  /** Static STUN/TURN servers handed to clients in the `joined` frame, after `stunUrls` and `turn`. Default []. */
  iceServers: IceServerInfo[];
  /** STUN URLs handed to clients (no credentials), e.g. ['stun:turn.example.org:3478']. Default []. */
  stunUrls: string[];
  /**
   * coturn with `use-auth-secret`: each participant gets its own time-limited credentials (the TURN
   * REST scheme, rtc/turn.ts) in its `joined` frame. Default null (no TURN).
   */
  turn: TurnOptions | null;
  /** Most participants whose video one subscriber receives: its tiles, then the last speakers. Default 9. */
  lastN: number;
  /** Most participants whose audio one subscriber receives (the most recent speakers). Default 3. */
  audioN: number;
  /** Forward one simulcast layer per subscriber (by tile size and bandwidth). Off: the first layer that arrives. Default true. */
  simulcast: boolean;
  /** Joins and leaves go out as one `participants-changed` frame at most this often (ms). Default 250. */
  presenceBatchMs: number;
  /** A simulcast layer no subscriber needs this long is paused at the publisher (ms). Default 5000. */
  layerPauseMs: number;
  /** How often the room updates speakers, last-N and layer choices (ms). Default 100. */
  tickMs: number;
  /** STUN servers the SFU itself uses to learn its public address. Default [] (host candidates only). */
  serverIceServers: IceServerInfo[];
  /** Most participants in one room; one more gets FORBIDDEN. Default 100. */
  maxParticipants: number;
  /** A participant whose peer connection stays disconnected this long is removed (ms). Default 10000. */
  disconnectGraceMs: number;
  /** A call nobody answers ends as missed after this long (ms). Default 30000. */
  ringTimeoutMs: number;
  /** Default lifetime of a meeting link (`rtc.link`), seconds. Default 86400. */
  linkTtlSeconds: number;
  /** Shortest interval between two keyframe requests (PLI) to one published track (ms). Default 300. */
  keyframeIntervalMs: number;
}

export const defaultMeetingOptions: MeetingOptions = {
  enabled: true,
  iceInterfaces: null,
  hostAddresses: [],
  candidatePairFilter: null,
  icePortRange: null,
  ipv6: true,
  iceServers: [],
  stunUrls: [],
  turn: null,
  lastN: 9,
  audioN: 3,
  simulcast: true,
  presenceBatchMs: 250,
  layerPauseMs: 5000,
  tickMs: 100,
  serverIceServers: [],
  maxParticipants: 100,
  disconnectGraceMs: 10_000,
  ringTimeoutMs: 30_000,
  linkTtlSeconds: 86_400,
  keyframeIntervalMs: 300,
};

export function resolveMeetingOptions(given: Partial<MeetingOptions> = {}): MeetingOptions {
  const o = { ...defaultMeetingOptions, ...given };
  for (const k of ['maxParticipants', 'disconnectGraceMs', 'ringTimeoutMs', 'linkTtlSeconds', 'lastN', 'audioN', 'layerPauseMs', 'tickMs'] as const) {
    if (!Number.isFinite(o[k]) || o[k] <= 0) throw new RangeError(`meetings.${k} must be a positive number, got ${o[k]}`);
  }
  if (!Number.isFinite(o.presenceBatchMs) || o.presenceBatchMs < 0) throw new RangeError(`meetings.presenceBatchMs must be >= 0, got ${o.presenceBatchMs}`);
  if (o.turn && (!o.turn.secret || o.turn.urls.length === 0)) throw new RangeError('meetings.turn needs urls and a secret');
  return o;
}

/** Loopback only: the candidate-pair filter the tests use. */
export const loopbackOnly = (local: CandidateEnd, remote: CandidateEnd): boolean => local.host === '127.0.0.1' && remote.host === '127.0.0.1';

/**
 * The werift configuration of every SFU peer connection: Opus and VP8 only, so any track fits any
 * subscriber. VP8 with NACK, PLI, REMB and transport-cc feedback. Header extensions: mid and rid
 * (simulcast layers are told apart by rid), RFC 6464 audio levels on audio, transport-wide sequence
 * numbers and abs-send-time on video. transport-cc is on video only: the SFU's feedback to a
 * publisher covers the transport's sequence numbers it sees, and audio without them leaves no
 * holes in that sequence (audio is never the part that needs bandwidth estimation).
 */
export function peerConfig(o: MeetingOptions): RTCPeerConnectionConfig {
  const filter = o.candidatePairFilter;
  return {
    codecs: { audio: [useOPUS()], video: [useVP8({ rtcpFeedback: [useNACK(), usePLI(), useREMB(), useTWCC()] })] },
    headerExtensions: {
      audio: [useSdesMid(), useAudioLevelIndication()],
      video: [useSdesMid(), useSdesRTPStreamId(), useRepairedRtpStreamId(), useTransportWideCC(), useAbsSendTime()],
    },
    // One transport for all m-lines, as browsers offer: one ICE/DTLS session per pc, not per track.
    bundlePolicy: 'max-bundle',
    iceServers: o.serverIceServers,
    iceUseIpv6: o.ipv6,
    ...(o.iceInterfaces ? { iceInterfaceAddresses: o.iceInterfaces } : {}),
    ...(o.hostAddresses.length > 0 ? { iceAdditionalHostAddresses: o.hostAddresses } : {}),
    ...(o.icePortRange ? { icePortRange: o.icePortRange } : {}),
    ...(filter
      ? {
          iceFilterCandidatePair: (pair: { localCandidate: CandidateEnd; remoteCandidate: CandidateEnd }) =>
            filter({ host: pair.localCandidate.host, port: pair.localCandidate.port, type: pair.localCandidate.type }, { host: pair.remoteCandidate.host, port: pair.remoteCandidate.port, type: pair.remoteCandidate.type }),
          // werift applies the pair filter only to the pairs it forms itself; a check that arrives
          // from the peer makes a pair (and gets a response) regardless, and a controlling browser
          // would nominate it. Unanswered, such a check fails on the browser's side too.
          iceFilterStunResponse: (_msg: unknown, addr: readonly [string, number], protocol: { localCandidate?: CandidateEnd | undefined }) => {
            const local = protocol.localCandidate;
            return !local || filter({ host: local.host, port: local.port, type: local.type }, { host: addr[0], port: addr[1], type: 'prflx' });
          },
        }
      : {}),
  };
}
