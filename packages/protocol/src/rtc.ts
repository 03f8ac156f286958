/**
 * Meetings on the wire: WebRTC signaling (`rtc.*`) and calls from chat (`call.*`). The commands ride
 * the participant's normal Parley session; the server answers with `res` / `err` as for any command
 * and pushes `rtc` and `call` frames. docs/meetings.md describes the flows.
 *
 * Each participant has two peer connections: `pub` (client offers, the SFU receives) and `sub` (the
 * SFU offers, the client receives). Everything here is ephemeral: never logged, never replayed.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { ConversationId, UserId } from './ids.ts';

const Id = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer()]);
const ConvId = Type.String({ minLength: 1, maxLength: 64 });
const CallId = Type.String({ minLength: 1, maxLength: 64 });
const Pc = Type.Union([Type.Literal('pub'), Type.Literal('sub')]);
const Sdp = Type.String({ minLength: 1, maxLength: 64 * 1024 });
const Source = Type.Union([Type.Literal('mic'), Type.Literal('camera'), Type.Literal('screen')]);

function command<T extends string, P extends Record<string, TSchema>>(t: T, props: P) {
  return Type.Object({ t: Type.Literal(t), id: Type.Optional(Id), ...props }, { additionalProperties: false });
}

export const RtcCommandSchemas = {
  /** Join a room: a conversation id (members only) or a meeting-link token. Answered after the `joined` frame. */
  'rtc.join': command('rtc.join', { room: Type.String({ minLength: 1, maxLength: 512 }) }),
  /** Leave the room this session is in; frees both peer connections. */
  'rtc.leave': command('rtc.leave', {}),
  /**
   * An SDP offer for the publishing pc (`pc: 'pub'`); the result carries the answer. `tracks` names
   * the source of each sending m-line by mid (default: audio = mic, video = camera).
   */
  'rtc.offer': command('rtc.offer', {
    pc: Pc,
    sdp: Sdp,
    tracks: Type.Optional(Type.Array(Type.Object({ mid: Type.String({ minLength: 1, maxLength: 32 }), source: Source }, { additionalProperties: false }), { maxItems: 16 })),
  }),
  /** The answer to the server's offer for the subscribing pc (`pc: 'sub'`). */
  'rtc.answer': command('rtc.answer', { pc: Pc, sdp: Sdp }),
  /** Trickle ICE: one local candidate of the client's `pc`; `candidate: null` ends the candidates. */
  'rtc.ice': command('rtc.ice', {
    pc: Pc,
    candidate: Type.Union([
      Type.Null(),
      Type.Object({
        candidate: Type.String({ maxLength: 1024 }),
        sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
        sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 255 }), Type.Null()])),
        usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
      }),
    ]),
  }),
  /** Mute or unmute my tracks of a kind (or one track by id); the SFU stops forwarding muted tracks. */
  'rtc.mute': command('rtc.mute', {
    kind: Type.Union([Type.Literal('audio'), Type.Literal('video')]),
    muted: Type.Boolean(),
    track: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  }),
  /**
   * The size (device pixels) at which this subscriber shows a remote video track: the SFU forwards
   * the simulcast layer that fits it (and the subscriber's bandwidth). 0×0 hides the tile: no video.
   */
  'rtc.layer': command('rtc.layer', {
    track: Type.String({ minLength: 1, maxLength: 64 }),
    width: Type.Integer({ minimum: 0, maximum: 16384 }),
    height: Type.Integer({ minimum: 0, maximum: 16384 }),
  }),
  /** A signed, expiring meeting link for a conversation (members only). */
  'rtc.link': command('rtc.link', { conv: ConvId, ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600 })) }),
  /** Ring the other members of a conversation; the call's room is the conversation. */
  'call.start': command('call.start', { conv: ConvId }),
  'call.accept': command('call.accept', { call: CallId }),
  'call.decline': command('call.decline', { call: CallId }),
  /** Hang up (the caller cancels a ringing call the same way). */
  'call.end': command('call.end', { call: CallId }),
} as const;

export type RtcCommandType = keyof typeof RtcCommandSchemas;

export function isRtcCommandType(t: string): t is RtcCommandType {
  return Object.prototype.hasOwnProperty.call(RtcCommandSchemas, t);
}

// --- what the server says ---

export type PcRole = 'pub' | 'sub';
export type TrackSource = 'mic' | 'camera' | 'screen';

export interface IceServerInfo {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceCandidateInfo {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface RtcTrackInfo {
  /** Stable for the life of the published track. */
  id: string;
  participant: string;
  kind: 'audio' | 'video';
  source: TrackSource;
  muted: boolean;
}

export interface RtcParticipantInfo {
  id: string;
  user: UserId;
  tracks: RtcTrackInfo[];
}

/** Server -> client signaling for the session's room. */
export type RtcEvent =
  /** First frame after `rtc.join`: who I am in the room, who is there, the ICE servers to use. */
  | { ev: 'joined'; participant: string; participants: RtcParticipantInfo[]; iceServers: IceServerInfo[]; /** Publish cameras as simulcast layers (the SFU picks one per subscriber). */ simulcast?: boolean }
  /**
   * Joins and leaves since the last such frame, batched (at most one per `presenceBatchMs`), so a
   * thousand joins make no N² storm. A participant who came and went within one batch is in neither.
   */
  | { ev: 'participants-changed'; joined: RtcParticipantInfo[]; left: string[] }
  /** The dominant speaker changed (RFC 6464 audio levels, smoothed); `speakers`: recent speakers, most recent first. */
  | { ev: 'speaker'; participant: string; speakers: string[] }
  /**
   * To a publisher: which simulcast layers (by rid) of its video track someone needs. The client
   * sets `encodings[i].active` to match, so layers nobody watches are not encoded or sent.
   */
  | { ev: 'layers'; track: string; active: Record<string, boolean> }
  | { ev: 'track-published'; track: RtcTrackInfo }
  | { ev: 'track-unpublished'; participant: string; track: string }
  | { ev: 'track-muted'; participant: string; track: string; muted: boolean }
  /** An offer for the subscribing pc; answer with `rtc.answer`. `mids` maps each m-line to the track it carries. */
  | { ev: 'offer'; pc: 'sub'; sdp: string; mids: Record<string, string> }
  /** A server ICE candidate for `pc`; null marks the end of candidates. */
  | { ev: 'ice'; pc: PcRole; candidate: IceCandidateInfo | null }
  /** The server ended this participation (left elsewhere, connection failed, room closed). */
  | { ev: 'closed'; reason: string };

export type RtcFrame = { t: 'rtc'; room: string } & RtcEvent;

export type CallState = 'ringing' | 'accepted' | 'declined' | 'ended' | 'missed';

/** Ephemeral call signal to every device of the conversation's members. */
export interface CallFrame {
  t: 'call';
  conv: ConversationId;
  call: string;
  /** Who called. */
  from: UserId;
  state: CallState;
  /** Who caused this state (accepted, declined, ended). */
  by?: UserId;
  /** The room to join for this call (`rtc.join`). */
  room: string;
}

/** The body of the `kind: 'call'` message a call leaves in its conversation. */
export type CallMessageBody = { state: 'missed' } | { state: 'declined' } | { state: 'ended'; durationMs: number };

export interface RtcResults {
  'rtc.join': { room: string; participant: string };
  'rtc.leave': Record<string, never>;
  'rtc.offer': { sdp: string };
  'rtc.answer': Record<string, never>;
  'rtc.ice': Record<string, never>;
  'rtc.mute': { tracks: string[] };
  'rtc.layer': Record<string, never>;
  'rtc.link': { token: string; conv: ConversationId; expiresAt: number };
  'call.start': { call: string; conv: ConversationId; room: string; state: CallState };
  'call.accept': { call: string; room: string };
  'call.decline': { call: string };
  'call.end': { call: string };
}
