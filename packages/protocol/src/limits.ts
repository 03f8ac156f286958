/**
 * Default limits. Every one is a server option (see packages/server/src/options.ts) and is
 * documented in docs/protocol.md. The server tells the client its effective limits in `welcome`.
 */
export const DefaultLimits = {
  /** Largest inbound frame in bytes; larger closes the connection with 1009. */
  maxFrameBytes: 128 * 1024,
  /** Largest message body in UTF-16 code units; larger gets `TOO_LARGE`. */
  maxBodyLength: 64 * 1024,
  /** Largest group, counting every member. */
  maxGroupMembers: 1024,
  /** Inbound frames per connection per second (token bucket, burst = 2x). Past it: close 4008. */
  maxFramesPerSecond: 200,
  /** Typing frames per user and conversation per second; extra ones are dropped silently. */
  typingPerSecond: 2,
  /** Outbound bytes queued per connection before it is closed with 4009. */
  maxQueueBytes: 4 * 1024 * 1024,
  /** Events per page when catching up from a cursor. */
  syncPageSize: 500,
  /** Messages per history page at most. */
  maxHistoryPage: 200,
  /** Heartbeat ping interval (ms); a peer that misses two is closed. */
  heartbeatMs: 25_000,
  /** Long-poll hold time (ms). */
  longPollHoldMs: 25_000,
  /** Typing indication lifetime without refresh (ms). */
  typingTtlMs: 5_000,
} as const;
export type Limits = { -readonly [K in keyof typeof DefaultLimits]: number };
