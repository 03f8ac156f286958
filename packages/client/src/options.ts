/**
 * Options of `connect()`. Every one has a documented default; they are merged once, at
 * construction, as `{ ...defaults, ...given }` and checked there.
 */
import { defaultBackoff, type BackoffOptions } from './Backoff.ts';
import type { PlatformOverrides } from './platform.ts';
import { MemoryStorage, type Storage } from './storage.ts';
import { TransportNames, type TransportName } from './transport/Transport.ts';
import { defaultTyping, type TypingOptions } from './Typing.ts';

export interface ClientOptions extends PlatformOverrides {
  /** The server, e.g. `https://chat.example.com` (ws:// and wss:// are accepted too). */
  url: string;
  /** Access token (from /v1/auth/login or /v1/auth/register). */
  token: string;
  /** `auto` (default): WebSocket, then SSE, then long polling. Or pin one. */
  transport?: TransportName | 'auto';
  /** Where the cursor and the outbox live. Default: a new MemoryStorage. */
  storage?: Storage;
  /** Called after 4001 / 401 for a fresh access token; null or a throw stops the client. */
  refreshToken?: () => Promise<string | null | undefined> | string | null | undefined;
  /** An attempt without `welcome` after this long counts as silent; fall back. Default 10000 ms. */
  welcomeTimeoutMs?: number;
  /** A command without an answer after this long fails with a TimeoutError. Default 20000 ms. */
  requestTimeoutMs?: number;
  /** Reconnect backoff. Default { initialMs: 250, maxMs: 15000, factor: 2 }. */
  backoff?: Partial<BackoffOptions>;
  /** Attempts a transport that worked before gets before falling back. Default 3. */
  provenRetries?: number;
  /** Ack debounce: at most this long after an event, ms. Default 50. */
  ackDelayMs?: number;
  /** ...or after this many events. Default 100. */
  ackEvery?: number;
  /** While events keep arriving, at most one ack per this long, ms (ackEvery still acks at once). Default 250. */
  ackIntervalMs?: number;
  /** Sends in flight at once. Default 64. */
  outboxWindow?: number;
  /** Backoff for sends and read marks that met a temporary error. Default { initialMs: 500, maxMs: 10000, factor: 2 }. */
  retry?: Partial<BackoffOptions>;
  /** Typing throttle. Default { throttleMs: 2000, idleMs: 3000 }. */
  typing?: Partial<TypingOptions>;
  /** WebSocket liveness: ping after this much silence, ms. Default 25000. */
  pingIntervalMs?: number;
  /** ...and give the link up when the ping is not answered within, ms. Default 10000. */
  pingTimeoutMs?: number;
  /** Share of the server's `maxFramesPerSecond` this client uses. Default 0.8. */
  rateShare?: number;
  /** Abort a long poll that has not answered after this long, ms. Default 40000. */
  longPollTimeoutMs?: number;
}

export interface ResolvedOptions extends PlatformOverrides {
  baseUrl: string;
  token: string;
  transports: TransportName[];
  storage: Storage;
  refreshToken?: ClientOptions['refreshToken'];
  welcomeTimeoutMs: number;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  provenRetries: number;
  ackDelayMs: number;
  ackEvery: number;
  ackIntervalMs: number;
  outboxWindow: number;
  retry: BackoffOptions;
  typing: TypingOptions;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  rateShare: number;
  longPollTimeoutMs: number;
}

export const defaults = {
  welcomeTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  provenRetries: 3,
  ackDelayMs: 50,
  ackEvery: 100,
  ackIntervalMs: 250,
  outboxWindow: 64,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 10_000,
  rateShare: 0.8,
  longPollTimeoutMs: 40_000,
} as const;

/** `ws://h/x/` -> `http://h/x`: every endpoint is built from one HTTP base. */
export function httpBase(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`url: unsupported scheme ${u.protocol}`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export function resolveOptions(o: ClientOptions): ResolvedOptions {
  if (!o.token) throw new TypeError('token is required');
  const transport = o.transport ?? 'auto';
  if (transport !== 'auto' && !TransportNames.includes(transport)) throw new TypeError(`transport: unknown "${String(transport)}"`);
  const r: ResolvedOptions = {
    ...defaults,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
    baseUrl: httpBase(o.url),
    token: o.token,
    transports: transport === 'auto' ? [...TransportNames] : [transport],
    storage: o.storage ?? new MemoryStorage(),
    backoff: { ...defaultBackoff, ...o.backoff },
    retry: { initialMs: 500, maxMs: 10_000, factor: 2, ...o.retry },
    typing: { ...defaultTyping, ...o.typing },
  };
  for (const k of ['welcomeTimeoutMs', 'requestTimeoutMs', 'ackEvery', 'outboxWindow', 'pingIntervalMs', 'pingTimeoutMs', 'rateShare', 'longPollTimeoutMs'] as const) {
    if (!(r[k] > 0)) throw new RangeError(`${k} must be a positive number, got ${r[k]}`);
  }
  for (const k of ['ackDelayMs', 'ackIntervalMs'] as const) {
    if (!(r[k] >= 0)) throw new RangeError(`${k} must be >= 0, got ${r[k]}`);
  }
  return r;
}
