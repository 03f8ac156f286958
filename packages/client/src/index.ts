/** @parley/client: the Parley SDK for browsers and Node. */
export { connect } from './connect.ts';
export { Client, type CommandArgs } from './Client.ts';
export type { ClientEvents } from './events.ts';
export { resolveOptions, httpBase, defaults, type ClientOptions, type ResolvedOptions } from './options.ts';
export { Connection, type ConnectionState, type ConnectionOptions, type ConnectionHandlers } from './Connection.ts';
export { EventStream, type EventStreamDeps } from './EventStream.ts';
export { Outbox, newClientMessageId, type OutboxEntry, type OutboxDeps, type SendResult } from './Outbox.ts';
export { ReadMarks } from './ReadMarks.ts';
export { Requests, type CommandInput } from './Requests.ts';
export { TypingThrottle, defaultTyping, type TypingOptions } from './Typing.ts';
export { tickAtLeast, tickState, Watermarks, type Tick, type ConversationWatermarks } from './ticks.ts';
export { MemoryStorage, LocalStorage, type Storage, type WebStorageLike } from './storage.ts';
export { Emitter, type EventMap, type Listener } from './Emitter.ts';
export { Backoff, defaultBackoff, type BackoffOptions } from './Backoff.ts';
export { Pacer } from './Pacer.ts';
export { DisconnectedError, TimeoutError, ClosedError, isAuthCode } from './errors.ts';
export { resolvePlatform, type PlatformOverrides } from './platform.ts';
export {
  TransportNames,
  streamUrl,
  type TransportName,
  type ClientTransport,
  type TransportContext,
  type TransportEnd,
  type TransportFactory,
  type TransportSink,
  type Platform,
  type WebSocketConstructor,
  type WebSocketLike,
  type EventSourceConstructor,
  type EventSourceLike,
} from './transport/Transport.ts';
export { WebSocketTransport, wsBase } from './transport/websocket.ts';
export { SseTransport } from './transport/sse.ts';
export { LongPollTransport, type LongPollOptions } from './transport/longpoll.ts';
export { HttpCommands, type HttpCommandsOptions } from './transport/http-commands.ts';
export { SseParser, readEventStream, type SseMessage, type SseStreamHandlers } from './transport/sse-reader.ts';
// The wire types, so applications need only this package.
export type * from '@parley/protocol';
export { ParleyError, ErrorCodes, CloseCodes } from '@parley/protocol';
