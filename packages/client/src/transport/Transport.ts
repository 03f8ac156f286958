/**
 * The client side of a transport: one attempt at a live stream of server frames, plus a way to send
 * commands. WebSocket, SSE and long polling each implement it in one file beside this one.
 *
 * Contract:
 * - `sink.frame` gets every server frame in arrival order; answers to commands sent with `send`
 *   come back through it too (for HTTP transports, from the POST response).
 * - `sink.end` is called exactly once, however the transport ended, and no frame follows it.
 *   `unauthorized` means close code 4001 or HTTP 401: the token is bad, do not fall back.
 * - `send` never throws; a command that cannot be sent is answered with an `err` frame of a
 *   temporary code (or dropped, when it has no id).
 * - `close` is idempotent.
 */
import type { Command, Cursor, ServerFrame } from '@parley/protocol';

export type TransportName = 'websocket' | 'sse' | 'longpoll';
export const TransportNames: readonly TransportName[] = ['websocket', 'sse', 'longpoll'];

export interface TransportEnd {
  kind: 'unauthorized' | 'closed';
  /** WebSocket close code, HTTP status, or 0 for a network error / local close. */
  code: number;
  /** Close reason or error code text, for diagnostics. */
  reason: string;
}

export interface TransportSink {
  frame(frame: ServerFrame): void;
  end(info: TransportEnd): void;
}

/** The platform pieces a transport may use; injectable for tests and unusual runtimes. */
export interface Platform {
  fetch: typeof fetch;
  /** A WebSocket constructor (the global one, or `ws`'s, loaded on demand). */
  WebSocket: () => Promise<WebSocketConstructor>;
  /** The global EventSource, or null to read the stream with fetch. */
  EventSource: EventSourceConstructor | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** What the transports use of a WebSocket (the browser API, which `ws` also implements). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface EventSourceLike {
  onmessage: ((ev: { data: string; lastEventId?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onopen: ((ev: unknown) => void) | null;
  /** For named events (the server's `event: close`). */
  addEventListener(type: string, listener: (ev: { data: string }) => void): void;
  close(): void;
}

/** Close code and reason from a server's close notice (`event: close` on SSE, `close` in a poll answer). */
export function closeNotice(raw: unknown): { code: number; reason: string } | null {
  const v = typeof raw === 'string' ? safeParse(raw) : raw;
  if (typeof v !== 'object' || v === null) return null;
  const { code, reason } = v as { code?: unknown; reason?: unknown };
  return typeof code === 'number' ? { code, reason: typeof reason === 'string' ? reason : '' } : null;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export interface TransportContext {
  /** http(s)://host[:port][/prefix], without a trailing slash. */
  baseUrl: string;
  token: string;
  /** The last cursor the client processed, read whenever a request starts (null: none yet). */
  cursor(): Cursor | null;
  sink: TransportSink;
  platform: Platform;
}

export interface ClientTransport {
  readonly name: TransportName;
  /** True when the client acks with `ack` commands; false when the next poll's cursor acks. */
  readonly explicitAcks: boolean;
  /** True when commands travel on the stream itself (WebSocket) and count against its rate limit. */
  readonly bidirectional: boolean;
  send(cmd: Command): void;
  close(): void;
}

export type TransportFactory = (ctx: TransportContext) => ClientTransport;

/** `base + path + ?token=..&cursor=..` (cursor omitted when unknown: the server uses the device's ack). */
export function streamUrl(base: string, path: string, token: string, cursor: Cursor | null): string {
  const q = new URLSearchParams({ token });
  if (cursor !== null) q.set('cursor', String(cursor));
  return `${base}${path}?${q.toString()}`;
}
