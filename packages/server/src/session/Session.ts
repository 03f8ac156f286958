/**
 * One device's live link, whatever the transport. It owns the device's stream position: `sent` is
 * the highest cursor written to the client. Live events are written at once when they continue the
 * stream; any gap (a lost broker notice, events that arrived while catching up) is filled from the
 * store, so the client sees every event of its log exactly once, in cursor order.
 */
import { CloseCodes, ParleyError, decodeCommand, type Command, type Cursor, type CursorEvent, type DeviceId, type Limits, type ServerFrame, type UserId } from '@parley/protocol';
import type { Logger } from 'pino';
import type { Principal } from '../auth/tokens.ts';
import type { Notice } from '../broker/Broker.ts';
import type { Commands, SessionLink } from '../chat/Commands.ts';
import type { PresenceService } from '../chat/PresenceService.ts';
import type { Typing } from '../chat/Typing.ts';
import type { Store } from '../store/Store.ts';
import { randomId } from '../util/ids.ts';
import { TokenBucket } from '../util/TokenBucket.ts';
import type { Hub, HubSession } from './Hub.ts';
import type { Transport } from './Transport.ts';

/** Failed catch-up reads retried (with backoff, about a minute in all) before the session closes. */
const PUMP_RETRIES = 15;

export interface SessionDeps {
  node: string;
  store: Store;
  hub: Hub;
  commands: Commands;
  presence: PresenceService;
  typing: Typing;
  limits: Limits;
  log: Logger;
}

export class Session implements HubSession, SessionLink {
  readonly id = randomId('s_', 9);
  readonly user: UserId;
  readonly device: DeviceId;
  private sent: Cursor = 0;
  private target: Cursor = 0;
  /** True while the stream is being filled from the store; live events then only raise `target`. */
  private pumping = true;
  private closed = false;
  private online = false;
  private pumpFailures = 0;
  /** The store request this device's last id-less ack joined (see ackQuietly). */
  private ackRequest: Promise<undefined> | null = null;
  /** When this session last heard a live notice (or checked the store); see Hub's idle sweep. */
  lastHeard = Date.now();
  private readonly bucket: TokenBucket;
  private logger: Logger | null = null;

  constructor(
    private readonly deps: SessionDeps,
    readonly principal: Principal,
    readonly transport: Transport,
  ) {
    this.user = principal.user;
    this.device = principal.device;
    this.bucket = new TokenBucket(deps.limits.maxFramesPerSecond, deps.limits.maxFramesPerSecond * 2);
    transport.onClose(() => deps.hub.track(this.closed_()));
  }

  /** Made on first use: a child logger per idle connection costs memory on every one of them. */
  private get log(): Logger {
    return (this.logger ??= this.deps.log.child({ session: this.id, user: this.user, transport: this.transport.name }));
  }

  /**
   * Start the stream after `from` (the client's cursor; when absent, the device's last ack). The
   * session registers with the hub before reading the head, so no event can fall between the two.
   *
   * Per connect this costs one store read (the log head) and, concurrently, the presence connect:
   * the device row was read by authentication (`principal.acked`) and is read again only for a
   * cursor beyond the head. Presence is counted as ours from the moment the connect is issued, so
   * a close at any later point disconnects it (same client, so after the connect, in order).
   */
  async open(from: Cursor | null): Promise<void> {
    const d = this.deps;
    if (this.closed) return;
    const acked = async () => this.principal.acked ?? (await d.store.device(this.device))?.acked ?? 0;
    let start = from ?? (await acked());
    // From here acks are clamped to what the client says it already has, not to 0.
    this.sent = start;
    await d.hub.add(this);
    // Closed while registering: cleanup ran before the hub knew us, so undo it here.
    if (this.closed) {
      await d.hub.remove(this);
      return;
    }
    this.online = true;
    const [head] = await Promise.all([d.store.head(this.user), d.presence.connected(this.user, this.id)]);
    // The client may have gone while we were setting up: its cleanup has undone the rest.
    if (this.closed) return;
    if (start > head) {
      this.write({ t: 'err', id: null, code: 'BAD_CURSOR', msg: `cursor ${start} is ahead of the log head ${head}; resuming from your last ack` });
      start = Math.min(from === null ? start : (await d.store.device(this.device))?.acked ?? 0, head);
    }
    this.sent = start;
    this.target = Math.max(this.target, head);
    this.write({ t: 'welcome', user: this.user, device: this.device, node: d.node, from: start, head, limits: d.limits });
    this.pumping = false;
    void this.pump();
  }

  /**
   * Ask the store where the log stands and fill any gap. The broker is at-most-once: a notice lost
   * while it blinked is otherwise noticed only when a later notice arrives.
   */
  async resync(): Promise<void> {
    if (this.closed || this.pumping) return;
    this.lastHeard = Date.now();
    try {
      const head = await this.deps.store.head(this.user);
      if (head > this.target) {
        this.target = head;
        void this.pump();
      }
    } catch (err) {
      this.log.debug({ err }, 'cursor check failed; the next sweep retries');
    }
  }

  // --- SessionLink ---
  sentCursor(): Cursor {
    return this.sent;
  }
  watch(users: readonly UserId[]): void {
    this.deps.hub.watch(this, users);
  }
  unwatch(users: readonly UserId[]): void {
    this.deps.hub.unwatch(this, users);
  }

  // --- HubSession ---
  notify(notice: Notice): void {
    if (this.closed) return;
    switch (notice.type) {
      case 'events':
        this.offer(notice.events);
        break;
      case 'typing':
        this.write({ t: 'typing', conv: notice.conv, user: notice.from, on: notice.on });
        break;
      case 'presence':
        this.write({ t: 'presence', user: notice.user, online: notice.online, lastSeen: notice.lastSeen });
        break;
      case 'call':
        this.write(notice.frame);
        break;
      case 'revoke':
        this.close(CloseCodes.UNAUTHORIZED, 'device logged out');
        break;
    }
  }

  /** Live events from the broker: written at once if they continue the stream, else fetched. */
  offer(events: readonly CursorEvent[]): void {
    this.lastHeard = Date.now();
    const last = events[events.length - 1];
    if (!last || last.c <= this.sent) return;
    this.target = Math.max(this.target, last.c);
    if (this.pumping) return;
    if (events.length === 1) {
      // The common case (one event per member of a fan-out), without the arrays below.
      if (last.c !== this.sent + 1) return void this.pump();
      this.write({ t: 'ev', c: last.c, e: last.e });
      this.sent = last.c;
      return;
    }
    const fresh = events.filter((e) => e.c > this.sent);
    if (fresh[0]?.c === this.sent + 1 && fresh.every((e, i) => e.c === this.sent + 1 + i)) {
      for (const e of fresh) this.write({ t: 'ev', c: e.c, e: e.e });
      this.sent = last.c;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      const half = this.deps.limits.maxQueueBytes / 2;
      while (!this.closed && this.sent < this.target) {
        const events = await this.deps.store.readLog(this.user, this.sent, this.deps.limits.syncPageSize);
        if (events.length === 0) break;
        for (const e of events) {
          // Catching up must never trip the slow-consumer limit: wait for the socket to drain.
          if (this.transport.buffered() > half) await this.transport.drained();
          if (this.closed || e.c !== this.sent + 1) break;
          this.write({ t: 'ev', c: e.c, e: e.e });
          this.sent = e.c;
        }
      }
      this.pumpFailures = 0;
    } catch (err) {
      // The store may be back in a moment (a restart, a failover): keep the connection and retry
      // with backoff; live commands keep working meanwhile. Only a long outage closes it.
      this.pumpFailures += 1;
      if (this.pumpFailures > PUMP_RETRIES) {
        this.log.warn({ err }, 'catch-up keeps failing; closing so the client resumes from its cursor');
        this.close(1011, 'catch-up failed');
      } else {
        this.log.debug({ err, attempt: this.pumpFailures }, 'catch-up failed; retrying');
        const delay = Math.min(5000, 250 * 2 ** (this.pumpFailures - 1)) * (0.5 + Math.random());
        setTimeout(() => void this.pump(), delay).unref();
      }
    } finally {
      this.pumping = false;
    }
  }

  write(frame: ServerFrame): void {
    if (this.closed) return;
    this.transport.write(frame);
    if (this.transport.buffered() > this.deps.limits.maxQueueBytes) {
      this.log.info('slow consumer');
      this.close(CloseCodes.SLOW_CONSUMER, 'outbound queue limit reached');
    }
  }

  /** One inbound text frame (bidirectional transports). Flooding closes the connection. */
  async receive(text: string): Promise<void> {
    if (this.closed) return;
    if (!this.bucket.take()) {
      this.close(CloseCodes.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    const decoded = decodeCommand(text);
    if (!decoded.ok) {
      this.write({ t: 'err', id: decoded.id, code: decoded.error.code, msg: decoded.error.message });
      return;
    }
    const cmd = decoded.cmd;
    if (cmd.t === 'ack' && (cmd.id ?? null) === null) return this.ackQuietly(cmd.cursor);
    await this.execute(cmd);
  }

  async execute(cmd: Command): Promise<void> {
    const id = cmd.id ?? null;
    try {
      const data = await this.deps.commands.execute(this.principal, cmd, [this]);
      if (id !== null) this.write({ t: 'res', id, data });
    } catch (err) {
      const e = err instanceof ParleyError ? err : new ParleyError('INTERNAL');
      if (!(err instanceof ParleyError)) this.log.error({ err, cmd: cmd.t }, 'command failed');
      this.write({ t: 'err', id, code: e.code, msg: e.message });
    }
  }

  /** An id-less ack: queued at once; a failure is reported once per store request, not per frame. */
  private ackQuietly(cursor: Cursor): void {
    const done = this.deps.commands.ackQuietly(this.principal, cursor, [this]);
    if (done === this.ackRequest) return;
    this.ackRequest = done;
    done.catch((err: unknown) => {
      const e = err instanceof ParleyError ? err : new ParleyError('INTERNAL');
      if (!(err instanceof ParleyError)) this.log.error({ err, cmd: 'ack' }, 'command failed');
      this.write({ t: 'err', id: null, code: e.code, msg: e.message });
    });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.transport.close(code, reason);
  }

  private async closed_(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const d = this.deps;
    // Two independent steps (each retries inside): a route that could not be detached must not
    // also leave the user showing online.
    try {
      const last = await d.hub.remove(this);
      if (last) d.typing.stopAll(this.user);
    } catch (err) {
      this.log.warn({ err }, 'session cleanup failed: route');
    }
    try {
      if (this.online) await d.presence.disconnected(this.user, this.id);
    } catch (err) {
      this.log.warn({ err }, 'session cleanup failed: presence');
    }
  }
}
