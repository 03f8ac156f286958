/**
 * Client -> server commands: the schemas (the single source of truth for validation) and their
 * static types. A command's `id` is echoed in the `res` or `err` frame that answers it.
 * The same frames travel over WebSocket (one per message) and over HTTP POST (SSE and long polling).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { RtcCommandSchemas } from './rtc.ts';

const Id = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Integer()]);
const ConvId = Type.String({ minLength: 1, maxLength: 64 });
const UserRef = Type.String({ minLength: 1, maxLength: 64 });
const SeqT = Type.Integer({ minimum: 0 });

/**
 * `id` is optional: a command without one is fire-and-forget (no `res` is sent; an error still is,
 * with id null). Acks and typing are usually sent that way.
 */
function command<T extends string, P extends Record<string, TSchema>>(t: T, props: P) {
  return Type.Object({ t: Type.Literal(t), id: Type.Optional(Id), ...props }, { additionalProperties: false });
}

export const CommandSchemas = {
  /** Store a message. Idempotent on (sender, cmid). Answered with SendResult: the "sent" tick. */
  send: command('send', {
    conv: ConvId,
    cmid: Type.String({ minLength: 1, maxLength: 64 }),
    body: Type.String(),
    kind: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  }),
  /** Cumulative acknowledgement of every event up to `cursor`; advances delivery watermarks. */
  ack: command('ack', { cursor: Type.Integer({ minimum: 0 }) }),
  /** Mark the conversation read up to `seq`; advances the read watermark (never moves back). */
  read: command('read', { conv: ConvId, seq: SeqT }),
  /** Typing indication; ephemeral. `on: false` ends it early, otherwise it expires by itself. */
  typing: command('typing', { conv: ConvId, on: Type.Boolean() }),
  /** Watch the presence of users this user shares a conversation with. */
  'presence.sub': command('presence.sub', { users: Type.Array(UserRef, { minItems: 1, maxItems: 500 }) }),
  'presence.unsub': command('presence.unsub', { users: Type.Array(UserRef, { minItems: 1, maxItems: 500 }) }),
  /** A page of history. `before`: messages with seq < before, newest first page. `after`: seq > after. */
  history: command('history', {
    conv: ConvId,
    before: Type.Optional(SeqT),
    after: Type.Optional(SeqT),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  }),
  /** Events of the user's log after `after`, for a client that found a gap. */
  sync: command('sync', { after: Type.Integer({ minimum: 0 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
  /** My conversations, most recently active first, with last message and unread count. */
  'conv.list': command('conv.list', {}),
  'conv.get': command('conv.get', { conv: ConvId }),
  /** The direct conversation with a user (by id or handle); created on first use. */
  'conv.direct': command('conv.direct', { user: UserRef }),
  'conv.group': command('conv.group', {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    members: Type.Array(UserRef, { maxItems: 10_000 }),
  }),
  'conv.add': command('conv.add', { conv: ConvId, users: Type.Array(UserRef, { minItems: 1, maxItems: 10_000 }) }),
  'conv.remove': command('conv.remove', { conv: ConvId, user: UserRef }),
  'conv.leave': command('conv.leave', { conv: ConvId }),
  'conv.admin': command('conv.admin', { conv: ConvId, user: UserRef, admin: Type.Boolean() }),
  'conv.rename': command('conv.rename', { conv: ConvId, name: Type.String({ minLength: 1, maxLength: 128 }) }),
  /** Per-member delivery and read state of one message ("message info"). */
  'msg.info': command('msg.info', { conv: ConvId, seq: Type.Integer({ minimum: 1 }) }),
  /** Look a user up by handle. */
  'user.find': command('user.find', { handle: Type.String({ minLength: 1, maxLength: 64 }) }),
  /** Application-level ping; answered with `res` carrying the server time. */
  ping: command('ping', {}),
  /** Meetings: `rtc.*` signaling and `call.*` (protocol/src/rtc.ts, docs/meetings.md). */
  ...RtcCommandSchemas,
} as const;

export type CommandType = keyof typeof CommandSchemas;
export type Command = { [K in CommandType]: Static<(typeof CommandSchemas)[K]> }[CommandType];
export type CommandOf<K extends CommandType> = Static<(typeof CommandSchemas)[K]>;
