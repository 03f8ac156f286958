/**
 * The rtc tree's shared types: ids, the signaling channel a participant talks through, and the
 * typed event maps of each object. Ownership, like mediasoup's:
 *
 *   RoomManager → Room → Participant → Publisher  → PublishedTrack
 *                                     → Subscriber → DownTrack (one per PublishedTrack it receives)
 *
 * `close()` is idempotent everywhere and cascades down; a PublishedTrack's close also closes the
 * DownTracks that forward it (they live in other participants' Subscribers). Every object counts
 * what it holds in the Ledger, so a test can prove that nothing outlives its owner.
 */
import type { DeviceId, IceCandidateInfo, RtcFrame, TrackSource, UserId } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Ledger } from './Ledger.ts';
import type { MeetingOptions } from './MeetingOptions.ts';
import type { Participant } from './Participant.ts';
import type { PublishedTrack } from './PublishedTrack.ts';

export type RoomId = string & { readonly __brand: 'RoomId' };
export type ParticipantId = string & { readonly __brand: 'ParticipantId' };
export type TrackId = string & { readonly __brand: 'TrackId' };
export type MediaKind = 'audio' | 'video';

/** What the rtc tree needs from its surroundings; one per RoomManager. */
export interface RtcContext {
  options: MeetingOptions;
  ledger: Ledger;
  log: Logger;
}

/**
 * How a participant's signaling reaches its client: in the server, the Parley session that sent
 * `rtc.join` (SessionChannel.ts); in unit tests, a recorder. `onClose` fires once when the session
 * ends; the participant then closes.
 */
export interface SignalChannel {
  readonly id: string;
  send(frame: RtcFrame): void;
  /** Returns the function that removes the handler. */
  onClose(fn: () => void): () => void;
}

/** Who joins: the user and device behind the channel. */
export interface Identity {
  user: UserId;
  device: DeviceId;
}

/** What a PublishedTrack needs from the peer connection it arrives on. */
export interface Upstream {
  /** Ask the publisher for a keyframe (PLI) on the layer with this SSRC; false when it cannot be sent. */
  requestKeyframe(ssrc: number): boolean;
}

export interface PublishedTrackInfo {
  id: TrackId;
  owner: ParticipantId;
  kind: MediaKind;
  source: TrackSource;
  /** RTP clock rate: 48000 for Opus, 90000 for video. */
  clockRate: number;
}

export interface RoomManagerEvents {
  /** The room lost its last participant and closed. */
  roomclosed: [RoomId];
}

export interface RoomEvents {
  participantjoined: [Participant];
  participantleft: [Participant];
  close: [];
}

export interface ParticipantEvents {
  trackpublished: [PublishedTrack];
  trackunpublished: [PublishedTrack];
  trackmuted: [PublishedTrack];
  /** The client changed the size of a tile it shows (`rtc.layer`). */
  tiles: [];
  close: [reason: string];
}

export interface PublisherEvents {
  track: [PublishedTrack];
  ice: [IceCandidateInfo | null];
  failed: [reason: string];
  close: [];
}

export interface SubscriberEvents {
  /** A new offer for the client's subscribing pc; `mids` maps m-lines to track ids. */
  offer: [sdp: string, mids: Record<string, string>];
  ice: [IceCandidateInfo | null];
  failed: [reason: string];
  close: [];
}

export interface PublishedTrackEvents {
  muted: [boolean];
  /** Which simulcast layers (by rid) someone needs now; the publisher should send only those. */
  layers: [active: Record<string, boolean>];
  close: [];
}

export interface DownTrackEvents {
  /** Last-N switched it on or off (the Subscriber binds it to an m-line slot or frees the slot). */
  forwarded: [on: boolean];
  close: [];
}
