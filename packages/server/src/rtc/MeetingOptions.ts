/**
 * Meeting options (the `meetings` block of the node options), merged once as { ...defaults, ...given }.
 * docs/meetings.md lists them with their defaults.
 */
import type { IceServerInfo } from '@parley/protocol';
import { useOPUS, useVP8, type RTCPeerConnectionConfig } from 'werift';

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
  /** STUN/TURN servers handed to clients in the `joined` frame. Default []. */
  iceServers: IceServerInfo[];
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
  serverIceServers: [],
  maxParticipants: 100,
  disconnectGraceMs: 10_000,
  ringTimeoutMs: 30_000,
  linkTtlSeconds: 86_400,
  keyframeIntervalMs: 300,
};

export function resolveMeetingOptions(given: Partial<MeetingOptions> = {}): MeetingOptions {
  const o = { ...defaultMeetingOptions, ...given };
  for (const k of ['maxParticipants', 'disconnectGraceMs', 'ringTimeoutMs', 'linkTtlSeconds'] as const) {
    if (!Number.isFinite(o[k]) || o[k] <= 0) throw new RangeError(`meetings.${k} must be a positive number, got ${o[k]}`);
  }
  return o;
}

/** Loopback only: the candidate-pair filter the tests use. */
export const loopbackOnly = (local: CandidateEnd, remote: CandidateEnd): boolean => local.host === '127.0.0.1' && remote.host === '127.0.0.1';

/** The werift configuration of every SFU peer connection: Opus and VP8 only, so any track fits any subscriber. */
export function peerConfig(o: MeetingOptions): RTCPeerConnectionConfig {
  const filter = o.candidatePairFilter;
  return {
    codecs: { audio: [useOPUS()], video: [useVP8()] },
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
