/**
 * The Parley client: one device's connection to a Parley server, with typed events, an outbox,
 * read marks, typing, presence and thin typed wrappers over every command.
 *
 * Ownership: the client owns its Connection (transport choice, reconnects), its EventStream
 * (cursor, de-duplication, gaps, acks), its Outbox, Requests and timers. `close()` stops all of them;
 * nothing it started outlives it.
 */
import {
  ParleyError,
  isErrorCode,
  type CommandOf,
  type CommandType,
  type Conversation,
  type ConversationId,
  type CursorEvent,
  type Cursor,
  type DeviceId,
  type Message,
  type Results,
  type Seq,
  type ServerFrame,
  type UserId,
  type WelcomeFrame,
} from '@parley/protocol';
import { Connection, type ConnectionState } from './Connection.ts';
import { Emitter, type Listener } from './Emitter.ts';
import { ClosedError } from './errors.ts';
import { EventStream } from './EventStream.ts';
import type { ClientEvents } from './events.ts';
import type { ResolvedOptions } from './options.ts';
import { Outbox, type OutboxEntry, type SendResult } from './Outbox.ts';
import { resolvePlatform } from './platform.ts';
import { ReadMarks } from './ReadMarks.ts';
import { Requests, type CommandInput } from './Requests.ts';
import { tickAtLeast, tickState, Watermarks, type ConversationWatermarks, type Tick } from './ticks.ts';
import { TypingThrottle } from './Typing.ts';
import { LongPollTransport } from './transport/longpoll.ts';
import { SseTransport } from './transport/sse.ts';
import type { TransportFactory, TransportName } from './transport/Transport.ts';
import { WebSocketTransport } from './transport/websocket.ts';

const CURSOR_KEY = 'cursor';

/** A command without its id, typed by its `t`. */
export type CommandArgs<K extends CommandType> = Omit<CommandOf<K>, 'id'> & { t: K };

export class Client {
  private readonly emitter: Emitter<ClientEvents>;
  private readonly connection: Connection;
  private readonly stream: EventStream;
  private readonly requests: Requests;
  private readonly outbox: Outbox;
  private readonly reads: ReadMarks;
  private readonly typingThrottle: TypingThrottle;
  private readonly presenceWatch = new Set<UserId>();
  /** All-members delivered/read watermarks per conversation, for ticks. */
  readonly watermarks = new Watermarks();
  private me: { user: UserId; device: DeviceId; node: string } | null = null;
  private badCursor = false;
  private storageIo: Promise<void> = Promise.resolve();
  private started = false;
  private closed = false;

  constructor(private readonly opts: ResolvedOptions) {
    this.emitter = new Emitter<ClientEvents>((err, event) => {
      // A throwing `error` listener is not reported again: that would loop.
      if (event !== 'error') this.emitter.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
    const report = (err: unknown) => this.emitter.emit('error', err instanceof Error ? err : new Error(String(err)));
    this.requests = new Requests(opts.requestTimeoutMs);
    this.stream = new EventStream(
      {
        process: (ev) => this.process(ev),
        sync: (after) => this.request({ t: 'sync', after }),
        ack: (cursor) => (this.connection.transport?.explicitAcks ? this.connection.send({ t: 'ack', cursor }) : false),
        persist: (cursor) => this.store((s) => s.set(CURSOR_KEY, String(cursor))),
        error: report,
        ackDelayMs: opts.ackDelayMs,
        ackEvery: opts.ackEvery,
        ackIntervalMs: opts.ackIntervalMs,
      },
      null,
    );
    this.outbox = new Outbox({
      storage: opts.storage,
      transmit: (e) => this.request({ t: 'send', conv: e.conv, cmid: e.cmid, body: e.body, ...(e.kind !== undefined ? { kind: e.kind } : {}) }),
      sent: (entry, result) => this.emitter.emit('sent', { entry, result }),
      failed: (entry, error) => this.emitter.emit('sendFailed', { entry, error }),
      error: report,
      window: opts.outboxWindow,
      retry: opts.retry,
    });
    this.reads = new ReadMarks((conv, seq) => this.request({ t: 'read', conv, seq }), opts.retry);
    this.typingThrottle = new TypingThrottle(opts.typing, (conv, on) => {
      this.connection.send({ t: 'typing', conv, on });
    });
    const longPoll = { pollTimeoutMs: opts.longPollTimeoutMs };
    const factories: Record<TransportName, TransportFactory> = {
      websocket: (ctx) => new WebSocketTransport(ctx),
      sse: (ctx) => new SseTransport(ctx),
      longpoll: (ctx) => new LongPollTransport(ctx, longPoll),
    };
    this.connection = new Connection(
      {
        baseUrl: opts.baseUrl,
        token: opts.token,
        transports: opts.transports,
        factories,
        platform: resolvePlatform(opts),
        welcomeTimeoutMs: opts.welcomeTimeoutMs,
        backoff: opts.backoff,
        provenRetries: opts.provenRetries,
        pingIntervalMs: opts.pingIntervalMs,
        pingTimeoutMs: opts.pingTimeoutMs,
        rateShare: opts.rateShare,
        ...(opts.refreshToken ? { refreshToken: opts.refreshToken } : {}),
        cursor: () => this.stream.cursor,
      },
      {
        open: (w, t) => this.opened(w, t.name),
        frame: (f) => this.frame(f),
        lost: () => {
          this.requests.detach();
          this.outbox.setOnline(false);
        },
        state: (state, transport) => this.emitter.emit('state', { state, transport }),
        unauthorized: (err) => this.emitter.emit('error', err),
        attemptFailed: (transport, why, end, to) => this.emitter.emit('fallback', { transport, to, why, code: end.code, reason: end.reason }),
        error: report,
      },
    );
  }

  /** Load the stored cursor, then connect. `connect()` calls this. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      const raw = await this.opts.storage.get(CURSOR_KEY);
      const c = raw === null ? NaN : Number(raw);
      if (Number.isSafeInteger(c) && c >= 0) this.stream.restore(c);
    } catch (err) {
      this.emitter.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
    await this.outbox.loaded();
    if (!this.closed) this.connection.start();
  }

  // --- events ---

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.emitter.on(event, listener);
  }
  once<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.emitter.once(event, listener);
  }
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.emitter.off(event, listener);
  }
  /** The next payload of `event` that satisfies `pred`; rejects with ClosedError on `close()`. */
  next<K extends keyof ClientEvents>(event: K, pred?: (payload: ClientEvents[K]) => boolean): Promise<ClientEvents[K]> {
    return this.emitter.next(event, pred);
  }

  // --- state ---

  get state(): ConnectionState {
    return this.connection.state;
  }
  /** The transport of the open link, or null. */
  get transport(): TransportName | null {
    return this.connection.transport?.name ?? null;
  }
  /** The last event cursor processed. */
  get cursor(): Cursor | null {
    return this.stream.cursor;
  }
  /** Known after the first `welcome`. */
  get user(): UserId | null {
    return this.me?.user ?? null;
  }
  get device(): DeviceId | null {
    return this.me?.device ?? null;
  }

  /**
   * Resolves when a link is open (at once if one is); rejects when the client is closed or stops
   * on an auth failure (state `unauthorized`).
   */
  async whenConnected(): Promise<void> {
    const settled = (s: ConnectionState) => s === 'connected' || s === 'closed' || s === 'unauthorized';
    let state = this.connection.state;
    if (!settled(state)) state = (await this.next('state', (s) => settled(s.state))).state;
    if (state === 'closed') throw new ClosedError();
    if (state === 'unauthorized') throw new ParleyError('UNAUTHORIZED', 'the server refused the token; call reconnect(token)');
  }

  // --- link events ---

  private opened(w: WelcomeFrame, transport: TransportName): void {
    this.me = { user: w.user, device: w.device, node: w.node };
    this.stream.welcome(w, this.badCursor);
    this.badCursor = false;
    this.requests.attach((cmd) => {
      this.connection.send(cmd);
    });
    this.renewPresence();
    this.outbox.setOnline(true);
    this.emitter.emit('connected', { transport, welcome: w });
  }

  /** Presence watches belong to a link (or a node): renew them, and report states that changed meanwhile. */
  private renewPresence(): void {
    if (this.presenceWatch.size === 0) return;
    this.request({ t: 'presence.sub', users: [...this.presenceWatch] }).then(
      (r) => r.states.forEach((s) => this.emitter.emit('presence', s)),
      () => {},
    );
  }

  private frame(f: ServerFrame): void {
    switch (f.t) {
      case 'welcome':
        // Long polling: every poll is a short session that starts with a welcome. A poll served by
        // another node does not know this device's presence watches.
        if (this.me && f.node !== this.me.node) {
          this.me.node = f.node;
          this.renewPresence();
        }
        break;
      case 'ev':
        this.stream.receive(f.c, f.e);
        break;
      case 'res':
        this.requests.answer(f);
        break;
      case 'err':
        if (this.requests.answer(f)) break;
        if (f.code === 'BAD_CURSOR') this.badCursor = true;
        this.emitter.emit('error', new ParleyError(isErrorCode(f.code) ? f.code : 'INTERNAL', f.msg));
        break;
      case 'typing':
        this.emitter.emit('typing', { conv: f.conv, user: f.user, on: f.on });
        break;
      case 'presence':
        this.emitter.emit('presence', { user: f.user, online: f.online, lastSeen: f.lastSeen });
        break;
      default:
        // Frames this client does not interpret (meeting signaling) go to whoever does.
        this.emitter.emit('frame', f);
        break;
    }
  }

  private process(ev: CursorEvent): void {
    const e = ev.e;
    switch (e.k) {
      case 'message':
        this.emitter.emit('message', e.msg);
        break;
      case 'receipt':
        this.watermarks.update(e.conv, e.delivered, e.read);
        this.emitter.emit('receipt', { conv: e.conv, delivered: e.delivered, read: e.read });
        break;
      case 'read':
        this.reads.observed(e.conv, e.seq);
        this.emitter.emit('read', { conv: e.conv, seq: e.seq });
        break;
      case 'conv':
        this.emitter.emit('conv', e);
        break;
    }
    this.emitter.emit('event', ev);
  }

  private store(op: (s: ResolvedOptions['storage']) => Promise<void>): void {
    this.storageIo = this.storageIo.then(() => op(this.opts.storage)).catch((err: unknown) => {
      this.emitter.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }

  // --- commands ---

  /** Any command, typed by its `t`; resolves with its result or rejects with a ParleyError. */
  request<K extends CommandType>(cmd: CommandArgs<K>, timeoutMs?: number): Promise<Results[K]> {
    return this.requests.request(cmd as unknown as CommandInput, timeoutMs) as Promise<Results[K]>;
  }

  /**
   * Send a message. Resolves with the server's `{ seq, ts }` once it is stored (the "sent" tick),
   * however many reconnects that takes; rejects only for a permanent error (or `close()`).
   */
  send(conv: ConversationId | string, body: string, options: { kind?: string } = {}): Promise<SendResult> {
    return this.outbox.add(conv as ConversationId, body, options.kind);
  }

  /** Messages not yet confirmed by the server, oldest first (their tick is 'pending'). */
  pending(): OutboxEntry[] {
    return this.outbox.pending();
  }

  /** Mark a conversation read up to `seq`; retried until the server has it. */
  markRead(conv: ConversationId | string, seq: Seq): Promise<void> {
    return this.reads.mark(conv as ConversationId, seq);
  }

  /** Call on every keystroke: throttled `typing on`, then `off` when the calls stop. */
  typing(conv: ConversationId | string): void {
    this.typingThrottle.typing(conv as ConversationId);
  }

  stopTyping(conv: ConversationId | string): void {
    this.typingThrottle.stop(conv as ConversationId);
  }

  /** Watch users' presence (renewed on every reconnect); resolves with their current states. */
  async subscribePresence(users: readonly (UserId | string)[]): Promise<Results['presence.sub']['states']> {
    for (const u of users) this.presenceWatch.add(u as UserId);
    const r = await this.request({ t: 'presence.sub', users: [...users] });
    return r.states;
  }

  async unsubscribePresence(users: readonly (UserId | string)[]): Promise<void> {
    for (const u of users) this.presenceWatch.delete(u as UserId);
    await this.request({ t: 'presence.unsub', users: [...users] });
  }

  history(conv: ConversationId | string, page: { before?: Seq; after?: Seq; limit?: number } = {}): Promise<Results['history']> {
    return this.request({ t: 'history', conv, ...page });
  }

  private seen(c: Conversation): Conversation {
    this.watermarks.fromConversation(c);
    return c;
  }

  /** My conversations, most recently active first; refreshes the tick watermarks. */
  async conversations(): Promise<Conversation[]> {
    const r = await this.request({ t: 'conv.list' });
    return r.conversations.map((c) => this.seen(c));
  }
  async conversation(conv: ConversationId | string): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.get', conv })).conversation);
  }
  /** The direct conversation with a user (id or handle); created on first use. */
  async direct(user: UserId | string): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.direct', user })).conversation);
  }
  async group(name: string, members: readonly (UserId | string)[]): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.group', name, members: [...members] })).conversation);
  }
  async addMembers(conv: ConversationId | string, users: readonly (UserId | string)[]): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.add', conv, users: [...users] })).conversation);
  }
  /** The conversation after the removal; null when you removed yourself (that is leaving). */
  async removeMember(conv: ConversationId | string, user: UserId | string): Promise<Conversation | null> {
    const { conversation } = await this.request({ t: 'conv.remove', conv, user });
    if (conversation) return this.seen(conversation);
    this.watermarks.forget(conv as ConversationId);
    return null;
  }
  async leave(conv: ConversationId | string): Promise<void> {
    await this.request({ t: 'conv.leave', conv });
    this.watermarks.forget(conv as ConversationId);
  }
  async setAdmin(conv: ConversationId | string, user: UserId | string, admin: boolean): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.admin', conv, user, admin })).conversation);
  }
  async rename(conv: ConversationId | string, name: string): Promise<Conversation> {
    return this.seen((await this.request({ t: 'conv.rename', conv, name })).conversation);
  }
  /** Per-member delivery and read state of one message. */
  messageInfo(conv: ConversationId | string, seq: Seq): Promise<Results['msg.info']> {
    return this.request({ t: 'msg.info', conv, seq });
  }
  findUser(handle: string): Promise<Results['user.find']> {
    return this.request({ t: 'user.find', handle });
  }
  /** Round trip to the server; resolves with the server's clock. */
  async ping(): Promise<number> {
    return (await this.request({ t: 'ping' })).now;
  }

  // --- ticks ---

  watermarksOf(conv: ConversationId | string): ConversationWatermarks | undefined {
    return this.watermarks.get(conv as ConversationId);
  }

  /** The tick of one of my messages (or an outbox entry, which has no seq: 'pending'). */
  tick(message: Pick<Message, 'conv'> & { seq?: Seq | null }): Tick {
    return tickState(message, this.watermarks.get(message.conv));
  }

  /**
   * Resolves once the tick of one of my messages is `tick` or later, at once if it already is.
   * Prefer it to `next('receipt', ...)` after `await send(...)`: the receipt may be processed in
   * the same turn as the send's answer, before the code after the `await` runs, and `next` only
   * sees events that come after it was called.
   */
  untilTick(message: Pick<Message, 'conv' | 'seq'>, tick: Exclude<Tick, 'pending'>): Promise<Tick> {
    const now = this.tick(message);
    if (tickAtLeast(now, tick)) return Promise.resolve(now);
    const reached = (r: { conv: ConversationId }) => r.conv === message.conv && tickAtLeast(this.tick(message), tick);
    return this.emitter.next('receipt', reached).then(() => this.tick(message));
  }

  // --- lifecycle ---

  /** Reconnect now (e.g. after state `unauthorized`), optionally with a new token. */
  reconnect(token?: string): void {
    this.connection.reconnect(token);
  }

  /** Use a new access token from the next connection attempt on. */
  setToken(token: string): void {
    this.connection.setToken(token);
  }

  /**
   * Close the link and stop every timer. The cursor is acked and persisted first; unsent messages
   * stay in storage for the next client on the same storage, and their promises reject.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream.close();
    this.typingThrottle.close();
    // Let the final ack leave before the link goes (WebSocket sends are queued in order).
    this.connection.close();
    this.requests.close();
    this.reads.close();
    await this.outbox.close();
    await this.storageIo;
    this.emitter.close(new ClosedError());
  }
}
