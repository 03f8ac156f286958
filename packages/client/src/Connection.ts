/**
 * The connection lifecycle: which transport to try, when to fall back, when to reconnect.
 *
 * - Negotiation: candidates in order (WebSocket, SSE, long polling, or one pinned transport). An
 *   attempt succeeds when the `welcome` frame arrives. It fails when the transport is refused
 *   (upgrade blocked, HTTP error other than 401, network error) or stays silent for
 *   `welcomeTimeoutMs` (e.g. a proxy that buffers the event stream); the next candidate is then
 *   tried at once. A transport that has worked before gets `provenRetries` attempts (with backoff)
 *   before the client falls back, so a restarting server does not push it down to long polling.
 * - Reconnection: a live link that ends is reopened after an exponential backoff with jitter,
 *   starting with the transport that last worked; after a `reconnect` frame or close 1012 (drain),
 *   after the server's `retryMs` plus jitter instead.
 * - Authentication: close 4001 / HTTP 401 never falls back. The client reports it, asks
 *   `refreshToken()` (when given) for a new token and retries the same transport; without one it
 *   stops in state `unauthorized` until `reconnect(token)`.
 * - Liveness: on WebSocket, a `ping` command after `pingIntervalMs` of silence; no answer within
 *   `pingTimeoutMs` closes the link (a half-open TCP connection otherwise looks alive for minutes).
 * - Pacing: WebSocket frames stay under the server's `maxFramesPerSecond` (from `welcome`).
 */
import { ParleyError, type Command, type Cursor, type ServerFrame, type WelcomeFrame } from '@parley/protocol';
import { Backoff, type BackoffOptions } from './Backoff.ts';
import { Pacer } from './Pacer.ts';
import type { ClientTransport, Platform, TransportEnd, TransportFactory, TransportName } from './transport/Transport.ts';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'unauthorized' | 'closed';

export interface ConnectionOptions {
  baseUrl: string;
  token: string;
  /** Candidates in order of preference; one entry pins the transport. */
  transports: readonly TransportName[];
  factories: Record<TransportName, TransportFactory>;
  platform: Platform;
  welcomeTimeoutMs: number;
  backoff: BackoffOptions;
  provenRetries: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** Share of the server's frame rate limit the client allows itself. */
  rateShare: number;
  refreshToken?: () => Promise<string | null | undefined> | string | null | undefined;
  cursor(): Cursor | null;
}

export interface ConnectionHandlers {
  open(welcome: WelcomeFrame, transport: ClientTransport): void;
  /** Every frame after `welcome` (and error frames the server sends before it). */
  frame(frame: ServerFrame): void;
  /** An open link ended. */
  lost(): void;
  state(state: ConnectionState, transport: TransportName | null): void;
  /** 4001 / 401. */
  unauthorized(err: ParleyError): void;
  /** An attempt failed before `welcome` and the client moves on to transport `to`. */
  attemptFailed(transport: TransportName, why: 'refused' | 'silent', end: TransportEnd, to: TransportName | null): void;
  error(err: unknown): void;
}

interface Attempt {
  name: TransportName;
  t: ClientTransport | null;
  welcomed: boolean;
  silent: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  lastInbound: number;
  pingSentAt: number;
  pacer: Pacer<Command> | null;
  /** Closed on purpose to start over (new token): not a failure of this transport. */
  restart: boolean;
}

export class Connection {
  private token: string;
  private current: Attempt | null = null;
  private round: TransportName[] = [];
  private roundIndex = 0;
  private lastGood: TransportName | null = null;
  private readonly proven = new Set<TransportName>();
  private readonly failures = new Map<TransportName, number>();
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private drainDelay: number | null = null;
  private authFailures = 0;
  private pingCounter = 0;
  private stopped = false;
  private stateNow: ConnectionState = 'disconnected';

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly h: ConnectionHandlers,
  ) {
    this.token = opts.token;
    this.backoff = new Backoff(opts.backoff);
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  /** The transport of the open link, or null. */
  get transport(): ClientTransport | null {
    return this.current?.welcomed ? this.current.t : null;
  }

  start(): void {
    this.newRound();
    this.attempt();
  }

  /** Send on the open link; false when there is none. */
  send(cmd: Command): boolean {
    const a = this.current;
    if (!a?.welcomed || !a.t) return false;
    if (a.pacer) a.pacer.push(cmd);
    else a.t.send(cmd);
    return true;
  }

  /** Use a new token from the next attempt on; reconnect now when stopped or waiting. */
  reconnect(token?: string): void {
    if (this.stopped) return;
    if (token) this.token = token;
    this.authFailures = 0;
    if (this.current) {
      if (!token) return;
      // Start over with the fresh token.
      this.current.restart = true;
      this.current.t?.close();
      return;
    }
    this.clearRetry();
    this.backoff.reset();
    this.newRound();
    this.attempt();
  }

  setToken(token: string): void {
    this.token = token;
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearRetry();
    this.current?.t?.close();
    this.current = null;
    this.stopWatchdog();
    this.setState('closed', null);
  }

  private setState(s: ConnectionState, t: TransportName | null): void {
    this.stateNow = s;
    this.h.state(s, t);
  }

  private newRound(): void {
    const order = this.opts.transports;
    const good = this.lastGood;
    this.round = good && order.includes(good) ? [good, ...order.filter((n) => n !== good)] : [...order];
    this.roundIndex = 0;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private schedule(delayMs: number): void {
    this.clearRetry();
    this.setState('disconnected', null);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.attempt();
    }, delayMs);
  }

  private attempt(): void {
    if (this.stopped) return;
    const name = this.round[this.roundIndex] ?? this.opts.transports[0] ?? 'websocket';
    const a: Attempt = { name, t: null, welcomed: false, silent: false, timer: null, lastInbound: Date.now(), pingSentAt: 0, pacer: null, restart: false };
    this.current = a;
    this.setState('connecting', name);
    a.timer = setTimeout(() => {
      if (a.welcomed) return;
      a.silent = true;
      a.t?.close();
    }, this.opts.welcomeTimeoutMs);
    try {
      a.t = this.opts.factories[name]({
        baseUrl: this.opts.baseUrl,
        token: this.token,
        cursor: this.opts.cursor,
        platform: this.opts.platform,
        sink: { frame: (f) => this.onFrame(a, f), end: (info) => this.onEnd(a, info) },
      });
    } catch (err) {
      this.h.error(err);
      this.onEnd(a, { kind: 'closed', code: 0, reason: `cannot start ${name}` });
    }
  }

  private onFrame(a: Attempt, f: ServerFrame): void {
    if (a !== this.current) return;
    a.lastInbound = Date.now();
    a.pingSentAt = 0;
    if (!a.welcomed) {
      if (f.t !== 'welcome') {
        // The server may explain itself before `welcome` (e.g. BAD_CURSOR).
        if (f.t === 'err') this.h.frame(f);
        return;
      }
      this.opened(a, f);
      return;
    }
    if (f.t === 'reconnect') {
      this.drainDelay = f.retryMs;
      return;
    }
    this.h.frame(f);
  }

  private opened(a: Attempt, w: WelcomeFrame): void {
    if (!a.t) return;
    a.welcomed = true;
    if (a.timer) clearTimeout(a.timer);
    this.backoff.reset();
    this.failures.set(a.name, 0);
    this.proven.add(a.name);
    this.lastGood = a.name;
    this.authFailures = 0;
    if (a.t.bidirectional) {
      const t = a.t;
      const rate = Math.max(1, w.limits.maxFramesPerSecond * this.opts.rateShare);
      a.pacer = new Pacer<Command>(rate, rate, (cmd) => t.send(cmd));
      this.startWatchdog(a);
    }
    this.setState('connected', a.name);
    this.h.open(w, a.t);
  }

  private onEnd(a: Attempt, info: TransportEnd): void {
    if (a !== this.current) return;
    if (a.timer) clearTimeout(a.timer);
    a.pacer?.clear();
    this.stopWatchdog();
    this.current = null;
    if (a.welcomed) this.h.lost();
    if (this.stopped) return;
    if (a.restart) {
      this.newRound();
      this.attempt();
      return;
    }
    if (info.kind === 'unauthorized') {
      void this.unauthorized(info);
      return;
    }
    if (a.welcomed) {
      const drain = this.drainDelay ?? (info.code === 1012 ? 1000 : null);
      this.drainDelay = null;
      this.newRound();
      this.schedule(drain !== null ? Math.round(drain * (1 + Math.random())) : this.backoff.next());
      return;
    }
    const fails = (this.failures.get(a.name) ?? 0) + 1;
    this.failures.set(a.name, fails);
    const why = a.silent ? 'silent' : 'refused';
    const stay = this.round.length === 1 || (this.proven.has(a.name) && fails < this.opts.provenRetries);
    if (stay) return this.schedule(this.backoff.next());
    this.roundIndex++;
    if (this.roundIndex < this.round.length) {
      this.h.attemptFailed(a.name, why, info, this.round[this.roundIndex] ?? null);
      this.attempt();
      return;
    }
    // Every candidate failed: wait, then start over with the preferred one.
    this.newRound();
    const next = this.round[0] ?? null;
    if (next !== a.name) this.h.attemptFailed(a.name, why, info, next);
    this.schedule(this.backoff.next());
  }

  private async unauthorized(info: TransportEnd): Promise<void> {
    const code = info.reason === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED';
    this.h.unauthorized(new ParleyError(code));
    this.authFailures++;
    const refresh = this.opts.refreshToken;
    if (!refresh || this.authFailures > 3) {
      this.setState('unauthorized', null);
      return;
    }
    this.setState('disconnected', null);
    let token: string | null | undefined;
    try {
      token = await refresh();
    } catch (err) {
      this.h.error(err);
      token = null;
    }
    if (this.stopped || this.current || this.retryTimer) return;
    if (!token) {
      this.setState('unauthorized', null);
      return;
    }
    this.token = token;
    // Same transport, same place in the round: an auth failure is no reason to fall back.
    this.schedule(this.authFailures > 1 ? this.backoff.next() : 0);
  }

  private startWatchdog(a: Attempt): void {
    this.stopWatchdog();
    const every = Math.max(10, Math.min(1000, this.opts.pingIntervalMs / 2));
    this.watchdog = setInterval(() => {
      if (a !== this.current || !a.t) return;
      const now = Date.now();
      if (a.pingSentAt > 0) {
        if (now - a.pingSentAt > this.opts.pingTimeoutMs) a.t.close();
        return;
      }
      if (now - a.lastInbound >= this.opts.pingIntervalMs) {
        a.pingSentAt = now;
        this.send({ t: 'ping', id: `hb${++this.pingCounter}` });
      }
    }, every);
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
