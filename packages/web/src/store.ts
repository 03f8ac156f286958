/**
 * The app's view of the chat: conversations, loaded message pages, presence, typing and the link
 * state, kept current from the SDK's events. Views read it and subscribe to topics; they never talk
 * to the server themselves except through the methods here.
 *
 * Rules that keep the screen honest:
 * - Messages are keyed by `seq`, so a replayed event (after a reconnect) never shows twice.
 * - A message typed while offline lives in the SDK's outbox (localStorage) and is shown from
 *   `client.pending()` with a pending tick until the server's ack; then it is shown by `seq`.
 * - Ticks come from the SDK's watermarks (`client.tick()`), never from local guesses.
 * - After every (re)connect the conversation list is fetched again: unread counts and receipt
 *   watermarks are the server's.
 */
import {
  connect,
  LocalStorage,
  type Client,
  type ConnectionState,
  type Conversation,
  type ConversationId,
  type Member,
  type Message,
  type MessageInfo,
  type OutboxEntry,
  type PresenceState,
  type Seq,
  type Tick,
  type Tokens,
  type UserId,
} from '@parley/client';
import { Freshness, listChanges } from './freshness.ts';
import { Refetcher } from './refetch.ts';
import type { Session } from './session.ts';

export type Topic = 'convs' | 'conn' | 'presence' | 'typing' | `msgs:${string}` | `conv:${string}`;

interface Thread {
  bySeq: Map<Seq, Message>;
  loaded: boolean;
  loading: boolean;
  more: boolean;
}

/** How long a "typing" indication is shown without a refresh (the server ends it after ~5 s). */
const TYPING_SHOWN_MS = 8_000;
const PAGE = 50;

export class ChatStore {
  readonly client: Client;
  readonly me: { user: UserId; handle: string; device: string };
  readonly convs = new Map<ConversationId, Conversation>();
  readonly presence = new Map<UserId, PresenceState>();
  conn: ConnectionState = 'connecting';
  everConnected = false;
  listLoaded = false;
  openConv: ConversationId | null = null;
  private readonly threads = new Map<ConversationId, Thread>();
  private readonly typers = new Map<ConversationId, Map<UserId, ReturnType<typeof setTimeout>>>();
  private readonly failed = new Map<string, OutboxEntry>();
  private readonly listeners = new Set<(topic: Topic) => void>();
  /** Which conversations a list answer may still set: not those fetched or changed since it was asked for (freshness.ts). */
  private readonly freshness = new Freshness<ConversationId>();
  /** One fetch per conversation at a time; the last answer wins (see refetch.ts). */
  private readonly fetching = new Refetcher<ConversationId, Conversation>(
    (conv) => {
      this.freshness.touch(conv);
      return this.client.conversation(conv);
    },
    (_conv, c) => {
      this.merge(c);
      this.watchPresence();
    },
    (conv, err) => {
      const code = (err as { code?: string }).code;
      if (code === 'NOT_MEMBER' || code === 'NOT_FOUND') {
        this.convs.delete(conv);
        this.threads.delete(conv);
      }
    },
    (conv) => {
      this.emit('convs');
      this.emit(`conv:${conv}`);
    },
  );
  private readonly onVisible = () => this.markOpenRead();
  /** Handles of users seen in any conversation. */
  private readonly handles = new Map<UserId, string>();
  /** Users whose presence this page watches. */
  private readonly watched = new Set<UserId>();

  constructor(
    session: Session,
    tokens: Tokens,
    private readonly signedOut: () => void,
  ) {
    this.me = { user: tokens.user as UserId, handle: tokens.handle, device: tokens.device };
    this.client = connect({
      url: location.origin,
      token: tokens.access,
      storage: new LocalStorage(`parley:${tokens.user}:${tokens.device}:`),
      refreshToken: async () => (await session.refresh())?.access ?? null,
    });
    this.wire();
    document.addEventListener('visibilitychange', this.onVisible);
  }

  // --- subscription ---

  subscribe(fn: (topic: Topic) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tell the views that `topic` changed (for state kept outside the store, e.g. calls). */
  notify(topic: Topic): void {
    this.emit(topic);
  }

  private emit(topic: Topic): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(topic);
      } catch (err) {
        reportError(err);
      }
    }
  }

  // --- SDK events ---

  private wire(): void {
    const c = this.client;
    c.on('state', ({ state }) => {
      this.conn = state;
      if (state === 'unauthorized') this.signedOut();
      this.emit('conn');
    });
    c.on('connected', () => {
      this.everConnected = true;
      void this.loadList();
      // Pages loaded before the link dropped may miss nothing (the event log resumes), but a thread
      // opened while offline has not been loaded at all.
      if (this.openConv) void this.open(this.openConv);
    });
    c.on('message', (m) => this.onMessage(m));
    c.on('receipt', ({ conv }) => {
      this.emit(`msgs:${conv}`);
      this.emit('convs');
    });
    c.on('read', ({ conv, seq }) => {
      const cv = this.convs.get(conv);
      if (!cv) return;
      const mine = cv.members.find((m) => m.user === this.me.user);
      if (mine) mine.read = Math.max(mine.read, seq);
      if (seq >= cv.lastSeq) cv.unread = 0;
      else void this.refreshConv(conv);
      this.emit('convs');
    });
    c.on('conv', (e) => void this.refreshConv(e.conv));
    c.on('presence', (p) => {
      this.presence.set(p.user, p);
      this.emit('presence');
    });
    c.on('typing', ({ conv, user, on }) => this.setTyping(conv, user, on));
    c.on('sent', ({ entry, result }) => {
      this.add({ conv: entry.conv, seq: result.seq, from: this.me.user, cmid: entry.cmid, kind: entry.kind ?? 'text', body: entry.body, ts: result.ts });
      this.emit(`msgs:${entry.conv}`);
      this.emit('convs');
    });
    c.on('sendFailed', ({ entry }) => {
      this.failed.set(entry.cmid, entry);
      this.emit(`msgs:${entry.conv}`);
    });
  }

  private onMessage(m: Message): void {
    const cv = this.convs.get(m.conv);
    if (!cv) {
      // A conversation this list has not seen yet (e.g. created while the list was loading).
      void this.refreshConv(m.conv).then(() => {
        if (this.convs.has(m.conv)) this.onMessage(m);
      });
      return;
    }
    const fresh = m.seq > cv.lastSeq;
    this.add(m);
    if (m.from !== this.me.user) {
      this.clearTyping(m.conv, m.from);
      if (this.isOpenAndVisible(m.conv)) this.markOpenRead();
      else if (fresh) cv.unread += 1;
    }
    this.emit(`msgs:${m.conv}`);
    this.emit('convs');
  }

  /** Put a committed message in its thread (when loaded) and in the list row. */
  private add(m: Message): void {
    const cv = this.convs.get(m.conv);
    if (cv && m.seq >= cv.lastSeq) {
      cv.lastSeq = m.seq;
      cv.lastMessage = m;
      cv.activeAt = Math.max(cv.activeAt, m.ts);
    }
    const t = this.threads.get(m.conv);
    if (t?.loaded) t.bySeq.set(m.seq, m);
  }

  // --- conversations ---

  async loadList(): Promise<void> {
    const mark = this.freshness.mark();
    let list: Conversation[];
    try {
      list = await this.client.conversations();
    } catch {
      return; // the next `connected` tries again
    }
    // A conversation fetched or changed while the list was on its way keeps that newer copy.
    const byId = new Map(list.map((c) => [c.id, c]));
    const { take, drop, recheck } = listChanges(this.convs.keys(), [...byId.keys()], this.freshness, mark);
    for (const id of drop) this.convs.delete(id);
    for (const id of take) this.merge(byId.get(id)!);
    for (const id of recheck) void this.refreshConv(id);
    this.listLoaded = true;
    this.watchPresence();
    this.markOpenRead();
    this.emit('convs');
  }

  /** Take the server's copy of a conversation, keeping a newer last message seen meanwhile. */
  private merge(c: Conversation): void {
    const old = this.convs.get(c.id);
    if (old && old.lastSeq > c.lastSeq) {
      c.lastSeq = old.lastSeq;
      c.lastMessage = old.lastMessage;
      c.activeAt = Math.max(c.activeAt, old.activeAt);
    }
    if (this.isOpenAndVisible(c.id)) c.unread = 0;
    this.convs.set(c.id, c);
    for (const m of c.members) if (m.user !== this.me.user) this.handles.set(m.user, m.handle);
  }

  /** A conversation the user just created or opened (from a command's answer). */
  adopt(c: Conversation): void {
    // A fetch already under way may answer with the state before this one: it fetches again;
    // a list on its way leaves this one alone.
    this.fetching.invalidate(c.id);
    this.freshness.touch(c.id);
    this.merge(c);
    this.watchPresence();
    this.emit('convs');
    this.emit(`conv:${c.id}`);
  }

  /** Fetch the server's copy of a conversation (after a `conv` event, a gap, a command). */
  refreshConv(conv: ConversationId): Promise<void> {
    return this.fetching.run(conv);
  }

  private watchPresence(): void {
    const users = new Set<UserId>();
    for (const c of this.convs.values()) for (const m of c.members) if (m.user !== this.me.user) users.add(m.user);
    const fresh = [...users].filter((u) => !this.watched.has(u));
    if (fresh.length === 0) return;
    for (const u of fresh) this.watched.add(u);
    for (let i = 0; i < fresh.length; i += 500) {
      this.client.subscribePresence(fresh.slice(i, i + 500)).then(
        (states) => {
          for (const s of states) this.presence.set(s.user, s);
          this.emit('presence');
        },
        () => {
          for (const u of fresh) this.watched.delete(u);
        },
      );
    }
  }

  /** Most recently active first. */
  sorted(): Conversation[] {
    return [...this.convs.values()].sort((a, b) => b.activeAt - a.activeAt || (a.id < b.id ? -1 : 1));
  }

  /** The other member of a direct conversation. */
  peer(c: Conversation): Member | undefined {
    return c.kind === 'direct' ? c.members.find((m) => m.user !== this.me.user) : undefined;
  }

  myMember(c: Conversation): Member | undefined {
    return c.members.find((m) => m.user === this.me.user);
  }

  handleOf(user: UserId): string {
    return user === this.me.user ? this.me.handle : (this.handles.get(user) ?? 'someone');
  }

  // --- threads ---

  private thread(conv: ConversationId): Thread {
    let t = this.threads.get(conv);
    if (!t) this.threads.set(conv, (t = { bySeq: new Map(), loaded: false, loading: false, more: true }));
    return t;
  }

  isLoaded(conv: ConversationId): boolean {
    return this.threads.get(conv)?.loaded ?? false;
  }

  hasMore(conv: ConversationId): boolean {
    return this.threads.get(conv)?.more ?? true;
  }

  /** Show a conversation: load its newest page once, mark it read. */
  async open(conv: ConversationId | null): Promise<void> {
    if (this.openConv !== conv) {
      this.openConv = conv;
      this.emit('convs');
    }
    if (!conv) return;
    this.markOpenRead();
    const t = this.thread(conv);
    if (t.loaded || t.loading) return;
    t.loading = true;
    try {
      const page = await this.client.history(conv, { limit: PAGE });
      for (const m of page.messages) t.bySeq.set(m.seq, m);
      t.more = page.more;
      t.loaded = true;
    } catch {
      // offline: loaded on the next `connected`
    } finally {
      t.loading = false;
    }
    this.emit(`msgs:${conv}`);
  }

  /** Load the page before the oldest message shown; false when there is nothing more. */
  async loadOlder(conv: ConversationId): Promise<boolean> {
    const t = this.thread(conv);
    if (!t.loaded || t.loading || !t.more) return false;
    const oldest = Math.min(...t.bySeq.keys());
    if (!Number.isFinite(oldest) || oldest <= 1) {
      t.more = false;
      return false;
    }
    t.loading = true;
    try {
      const page = await this.client.history(conv, { before: oldest, limit: PAGE });
      for (const m of page.messages) t.bySeq.set(m.seq, m);
      t.more = page.more;
    } catch {
      return false;
    } finally {
      t.loading = false;
    }
    this.emit(`msgs:${conv}`);
    return true;
  }

  messages(conv: ConversationId): Message[] {
    const t = this.threads.get(conv);
    return t ? [...t.bySeq.values()].sort((a, b) => a.seq - b.seq) : [];
  }

  /** Messages of mine not yet acknowledged by the server (or refused: `failed`). */
  pending(conv: ConversationId): { entry: OutboxEntry; failed: boolean }[] {
    const confirmed = new Set(this.messages(conv).map((m) => m.cmid));
    const out = this.client
      .pending()
      .filter((e) => e.conv === conv && !confirmed.has(e.cmid))
      .map((entry) => ({ entry, failed: false }));
    for (const entry of this.failed.values()) if (entry.conv === conv) out.push({ entry, failed: true });
    return out;
  }

  send(conv: ConversationId, body: string): void {
    this.client.stopTyping(conv);
    this.client.send(conv, body).catch(() => {
      // Refused for good (reported by `sendFailed`) or the client closed; nothing to do here.
    });
    this.emit(`msgs:${conv}`);
  }

  tick(m: { conv: ConversationId; seq?: Seq | null }): Tick {
    return this.client.tick(m);
  }

  // --- read marks ---

  private isOpenAndVisible(conv: ConversationId): boolean {
    return this.openConv === conv && document.visibilityState === 'visible';
  }

  markOpenRead(): void {
    const conv = this.openConv;
    if (!conv || document.visibilityState !== 'visible') return;
    const cv = this.convs.get(conv);
    if (!cv) return;
    const mine = this.myMember(cv);
    const changed = cv.unread !== 0;
    cv.unread = 0;
    if (mine && cv.lastSeq > mine.read) {
      mine.read = cv.lastSeq;
      this.client.markRead(conv, cv.lastSeq).catch(() => {});
    }
    if (changed) this.emit('convs');
  }

  // --- typing ---

  typing(conv: ConversationId, text: string): void {
    if (text.length > 0) this.client.typing(conv);
    else this.client.stopTyping(conv);
  }

  private setTyping(conv: ConversationId, user: UserId, on: boolean): void {
    if (!on) return this.clearTyping(conv, user);
    let m = this.typers.get(conv);
    if (!m) this.typers.set(conv, (m = new Map()));
    const old = m.get(user);
    if (old) clearTimeout(old);
    m.set(
      user,
      setTimeout(() => this.clearTyping(conv, user), TYPING_SHOWN_MS),
    );
    this.emit('typing');
  }

  private clearTyping(conv: ConversationId, user: UserId): void {
    const m = this.typers.get(conv);
    const t = m?.get(user);
    if (!m || t === undefined) return;
    clearTimeout(t);
    m.delete(user);
    this.emit('typing');
  }

  /** Users typing in a conversation right now. */
  typingIn(conv: ConversationId): UserId[] {
    return [...(this.typers.get(conv)?.keys() ?? [])];
  }

  // --- groups ---

  messageInfo(conv: ConversationId, seq: Seq): Promise<MessageInfo> {
    return this.client.messageInfo(conv, seq);
  }

  async close(): Promise<void> {
    document.removeEventListener('visibilitychange', this.onVisible);
    for (const m of this.typers.values()) for (const t of m.values()) clearTimeout(t);
    await this.client.close();
  }
}

function reportError(err: unknown): void {
  // A view failed to render; keep the app running and leave a trace for the developer.
  window.dispatchEvent(new ErrorEvent('error', { error: err, message: String(err) }));
}
