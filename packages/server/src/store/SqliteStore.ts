/**
 * The embedded store: one SQLite file in WAL mode, driven synchronously by better-sqlite3. Write
 * calls made in one turn of the event loop share one write transaction (BEGIN IMMEDIATE), each
 * call atomic in its own savepoint; reads run at once. Every seq and cursor is allocated inside
 * the write transaction and nothing read is kept across transactions, so several processes may
 * share the file. SqliteWorkerStore runs the same code with the writes in a worker thread.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ParleyError, type ConversationId, type Cursor, type CursorEvent, type DeviceId, type Message, type Seq, type UserId } from '@parley/protocol';
import type {
  AckRequest,
  AppendResult,
  Appended,
  ConversationRecord,
  ConversationSummary,
  DeviceRecord,
  NewConversation,
  NewMessage,
  ReadRequest,
  Store,
  UserRecord,
} from './Store.ts';
import { DEFAULT_RUN_THRESHOLD } from './Store.ts';
import { sqliteMigrations } from './sqlite/migrations.ts';
import { applyAckBatch } from './sqlite/acks.ts';
import { startCheckpointer, type Checkpointer } from './sqlite/checkpointer.ts';
import { appendBatch } from './sqlite/append.ts';
import { LogWriter } from './sqlite/log.ts';
import { Watermarks } from './sqlite/watermarks.ts';
import { EFFECTIVE_HEAD, readLogWithRuns } from './sqlite/read-log.ts';
import { toMember, type ConversationRow, type MemberRow } from './sqlite/rows.ts';
import { conversationBase, toDevice, toMessage, toUser, type DeviceRow, type MessageRow, type UserRow } from './rows.ts';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. Its folder is created. */
  path: string;
  /**
   * Conversations with at least this many members keep their message events in runs (one row
   * per member per stretch of messages, sqlite/runs.ts) instead of one log row per member per
   * message. Default 32. Tests lower it to exercise runs with small groups.
   */
  runThreshold?: number;
  /**
   * WAL checkpoints on a background thread instead of inside the commit that fills the WAL
   * (sqlite/checkpointer.ts). Default false: on the 2-core bench machine the thread cost ~15 %
   * more CPU per message at saturation and its latency gain was within the noise
   * (docs/benchmarks.md, direct); worth trying where cores are spare and fsyncs slow.
   */
  backgroundCheckpoints?: boolean;
}

/** How often the background thread checkpoints, ms. */
const CHECKPOINT_INTERVAL_MS = 100;


function directKey(a: UserId, b: UserId): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** SQLite reports busy/locked/IO trouble as these codes: retryable for the caller. */
function wrap(err: unknown): never {
  if (err instanceof ParleyError) throw err;
  const code = (err as { code?: string }).code ?? '';
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) throw new ParleyError('UNAVAILABLE', `store: ${code}`);
  throw err;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly runThreshold: number;
  private checkpointer: Checkpointer | null = null;

  constructor(options: SqliteStoreOptions) {
    this.runThreshold = options.runThreshold ?? DEFAULT_RUN_THRESHOLD;
    if (!(this.runThreshold >= 2)) throw new RangeError(`runThreshold must be >= 2, got ${this.runThreshold}`);
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    // First, so that even switching to WAL waits for another connection (thread, process) to finish.
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last ones.
    this.db.pragma('synchronous = NORMAL');
    // SQLite's default checkpoint size (1,000 pages). A 10,000-page WAL saved CPU under saturation
    // but each checkpoint then stalls the event loop long enough to triple p99 at moderate rates
    // (direct bench, 1,000 msgs/s: p99 134-155 ms with 10,000 pages, 35-46 ms with 1,000).
    // A larger page cache keeps the hot pages (log tails, last messages) from being read back.
    this.db.pragma('wal_autocheckpoint = 1000');
    this.db.pragma('cache_size = -65536');
    // Each call of a group commit is a savepoint, whose undo copy of a page goes to a temporary
    // journal: in memory, not a file (measured: 4.7x fewer pwrite calls per commit).
    this.db.pragma('temp_store = MEMORY');
    this.db.pragma('foreign_keys = ON');
    if (options.backgroundCheckpoints === true && options.path !== ':memory:') {
      // The background thread checkpoints; should it die, this connection does it again itself.
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = startCheckpointer(
        options.path,
        CHECKPOINT_INTERVAL_MS,
        () => {
          this.checkpointer = null;
          if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
        },
        (p) => {
          if (p.tail) this.catchUpCheckpoint();
        },
      );
    }
  }

  /**
   * The short tail the background thread left (checkpointer.ts): copied here, between two of this
   * connection's transactions, so that its next commit starts the WAL over at the top. It only
   * helps: should it fail (another process's checkpoint running, the store closed), the thread
   * reports again or is gone.
   */
  private catchUpCheckpoint(): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // the next report tries again
    }
  }

  /** Run `fn` in one IMMEDIATE transaction, mapping driver errors to stable codes. */
  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      wrap(err);
    }
  }

  /**
   * Group commit of whole Store calls. A write call queues its work; the calls queued by one turn
   * of the event loop (a batch of sends, the acks and reads of the same tick ...) then run in ONE
   * write transaction, each inside its own savepoint: a call that fails rolls back alone, and no
   * call resolves before the shared COMMIT. One commit instead of several is most of the saving:
   * a commit writes every page the transaction dirtied (each recipient's log tail, each
   * conversation's last page), whether it holds one message or a hundred.
   */
  private queued: { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  /** True while inOneTransaction runs: write calls then run at once, as savepoints. */
  private grouped = false;

  private write<T>(fn: () => T): Promise<T> {
    if (this.grouped) return Promise.resolve(this.tx(fn));
    return new Promise<T>((resolve, reject) => {
      if (this.queued.push({ fn, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(() => this.flushQueued());
    });
  }

  private flushQueued(): void {
    const group = this.queued;
    this.queued = [];
    if (group.length === 0) return;
    if (!this.db.open) {
      for (const g of group) g.reject(new ParleyError('UNAVAILABLE', 'store closed'));
      return;
    }
    if (group.length === 1) {
      // Alone in its transaction: no savepoint needed (no undo copies of the pages it writes);
      // if it fails, the rollback of the whole transaction is its own rollback.
      const only = group[0]!;
      let v: unknown;
      try {
        v = this.inOneTransaction(only.fn);
      } catch (e) {
        only.reject(e);
        return;
      }
      only.resolve(v);
      return;
    }
    let results: ({ ok: true; v: unknown } | { ok: false; e: unknown })[];
    try {
      results = this.inOneTransaction(() =>
        group.map((g) => {
          try {
            return { ok: true as const, v: this.tx(g.fn) };
          } catch (e) {
            return { ok: false as const, e };
          }
        }),
      );
    } catch (err) {
      // The shared BEGIN or COMMIT failed: nothing of the group was stored.
      for (const g of group) g.reject(err);
      return;
    }
    group.forEach((g, i) => {
      const r = results[i]!;
      if (r.ok) g.resolve(r.v);
      else g.reject(r.e);
    });
  }

  /**
   * Run `fn` (synchronous) as one write transaction in which every Store write call made by `fn`
   * runs at once as a savepoint (the writer thread's group commit, see sqlite/worker.ts).
   */
  inOneTransaction<T>(fn: () => T): T {
    const outer = this.grouped;
    this.grouped = true;
    try {
      return this.tx(fn);
    } finally {
      this.grouped = outer;
    }
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared statements are cached: preparing costs more than most of the queries themselves. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  async migrate(): Promise<void> {
    for (let i = 0; i < sqliteMigrations.length; i++) {
      // The version is read inside the write transaction: another process migrating the same file
      // at the same time has either run step i already (skip it) or waits for us.
      this.tx(() => {
        if ((this.db.pragma('user_version', { simple: true }) as number) > i) return;
        this.db.exec(sqliteMigrations[i] ?? '');
        this.db.pragma(`user_version = ${i + 1}`);
      });
    }
  }

  async close(): Promise<void> {
    // Writes already queued are committed first: their callers were promised an answer.
    this.flushQueued();
    const checkpointer = this.checkpointer;
    this.checkpointer = null;
    await checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  // --- accounts ---

  async createUser(user: { id: UserId; handle: string; passwordHash: string; createdAt: number }): Promise<void> {
    return this.write(() => {
      try {
        this.stmt('INSERT INTO users (id, handle, handle_lc, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
          user.id,
          user.handle,
          user.handle.toLowerCase(),
          user.passwordHash,
          user.createdAt,
        );
        this.stmt('INSERT INTO heads (user_id) VALUES (?)').run(user.id);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ParleyError('HANDLE_TAKEN');
        wrap(err);
      }
    });
  }

  async userByHandle(handle: string): Promise<UserRecord | null> {
    const r = this.stmt('SELECT * FROM users WHERE handle_lc = ?').get(handle.toLowerCase()) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  async usersById(ids: readonly UserId[]): Promise<UserRecord[]> {
    if (ids.length === 0) return [];
    const rows = this.stmt(`SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as UserRow[];
    return rows.map(toUser);
  }

  async setLastSeen(user: UserId, ts: number): Promise<void> {
    return this.write(() => {
      this.stmt('UPDATE users SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?').run(ts, user);
    });
  }

  async createDevice(d: { id: DeviceId; user: UserId; name: string; refreshHash: string; createdAt: number }): Promise<void> {
    return this.write(() => {
      this.stmt('INSERT INTO devices (id, user_id, name, refresh_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(d.id, d.user, d.name, d.refreshHash, d.createdAt);
    });
  }

  async device(id: DeviceId): Promise<DeviceRecord | null> {
    const r = this.stmt('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return r ? toDevice(r) : null;
  }

  async rotateRefresh(device: DeviceId, oldHash: string, newHash: string): Promise<boolean> {
    return this.write(() => this.stmt('UPDATE devices SET refresh_hash = ? WHERE id = ? AND refresh_hash = ? AND revoked = 0').run(newHash, device, oldHash).changes === 1);
  }

  async revokeDevice(device: DeviceId): Promise<void> {
    return this.write(() => {
      this.stmt("UPDATE devices SET revoked = 1, refresh_hash = '' WHERE id = ?").run(device);
    });
  }

  // --- conversations ---

  async directBetween(a: UserId, b: UserId): Promise<ConversationId | null> {
    const r = this.stmt('SELECT id FROM conversations WHERE direct_key = ?').get(directKey(a, b)) as { id: string } | undefined;
    return r ? (r.id as ConversationId) : null;
  }

  async createConversation(conv: NewConversation): Promise<{ id: ConversationId; created: boolean; appended: Appended }> {
    return this.write(() => {
      let key: string | null = null;
      if (conv.kind === 'direct') {
        const [a, b] = conv.members;
        if (!a || !b || a.user === b.user || conv.members.length !== 2) throw new ParleyError('INVALID', 'a direct conversation has two distinct members');
        key = directKey(a.user, b.user);
        const existing = this.stmt('SELECT id FROM conversations WHERE direct_key = ?').get(key) as { id: string } | undefined;
        if (existing) return { id: existing.id as ConversationId, created: false, appended: new Map() };
      }
      this.stmt('INSERT INTO conversations (id, kind, name, direct_key, created_at, active_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        conv.id,
        conv.kind,
        conv.name,
        key,
        conv.createdAt,
        conv.createdAt,
      );
      const add = this.stmt('INSERT INTO members (conv_id, user_id, admin, joined_at) VALUES (?, ?, ?, ?)');
      const log = new LogWriter(this.stmt.bind(this));
      for (const m of conv.members) add.run(conv.id, m.user, m.admin ? 1 : 0, conv.createdAt);
      for (const m of conv.members) log.event(m.user, { k: 'conv', change: 'created', conv: conv.id, by: conv.by }, conv.id);
      return { id: conv.id, created: true, appended: log.flush() };
    });
  }

  private membersOf(conv: ConversationId) {
    const rows = this.stmt(
      'SELECT m.user_id, u.handle, m.admin, m.delivered, m.read, m.joined_at FROM members m JOIN users u ON u.id = m.user_id WHERE m.conv_id = ? AND m.active = 1 ORDER BY m.joined_at, u.handle',
    ).all(conv) as MemberRow[];
    return rows.map(toMember);
  }

  async conversation(id: ConversationId): Promise<ConversationRecord | null> {
    const r = this.stmt('SELECT * FROM conversations WHERE id = ?').get(id) as ConversationRow | undefined;
    return r ? { ...conversationBase(r), members: this.membersOf(id) } : null;
  }

  private summarize(r: ConversationRow, user: UserId, myRead: number): ConversationSummary {
    const last = r.last_seq > 0 ? (this.stmt('SELECT * FROM messages WHERE conv_id = ? AND seq = ?').get(r.id, r.last_seq) as MessageRow | undefined) : undefined;
    const unread = this.stmt('SELECT COUNT(*) AS n FROM messages WHERE conv_id = ? AND seq > ? AND sender <> ?').get(r.id, myRead, user) as { n: number };
    return {
      ...conversationBase(r),
      members: this.membersOf(r.id as ConversationId),
      lastMessage: last ? toMessage(last) : null,
      unread: unread.n,
    };
  }

  async conversationsOf(user: UserId): Promise<ConversationSummary[]> {
    const rows = this.stmt(
      'SELECT c.*, m.read AS my_read FROM conversations c JOIN members m ON m.conv_id = c.id WHERE m.user_id = ? AND m.active = 1 ORDER BY c.active_at DESC, c.id',
    ).all(user) as (ConversationRow & { my_read: number })[];
    return rows.map((r) => this.summarize(r, user, r.my_read));
  }

  async conversationFor(user: UserId, id: ConversationId): Promise<ConversationSummary | null> {
    const r = this.stmt(
      'SELECT c.*, m.read AS my_read FROM conversations c JOIN members m ON m.conv_id = c.id WHERE m.user_id = ? AND c.id = ? AND m.active = 1',
    ).get(user, id) as (ConversationRow & { my_read: number }) | undefined;
    return r ? this.summarize(r, user, r.my_read) : null;
  }

  private activeUsers(conv: ConversationId): UserId[] {
    // pluck: the ids themselves, no row object each (a 1,024-member group's every append reads them).
    // The alias gives the statement a text of its own: pluck() changes the cached statement.
    return this.stmt('SELECT user_id AS active_user_id FROM members WHERE conv_id = ? AND active = 1').pluck().all(conv) as UserId[];
  }

  private requireGroup(conv: ConversationId): ConversationRow {
    const r = this.stmt('SELECT * FROM conversations WHERE id = ?').get(conv) as ConversationRow | undefined;
    if (!r) throw new ParleyError('NOT_FOUND', 'no such conversation');
    if (r.kind !== 'group') throw new ParleyError('FORBIDDEN', 'direct conversations have fixed members');
    return r;
  }

  async addMembers(conv: ConversationId, users: readonly UserId[], by: UserId, maxMembers: number): Promise<Appended> {
    return this.write(() => {
      const row = this.requireGroup(conv);
      const current = new Set(this.activeUsers(conv));
      const fresh = [...new Set(users)].filter((u) => !current.has(u));
      if (fresh.length === 0) return new Map();
      if (current.size + fresh.length > maxMembers) throw new ParleyError('GROUP_FULL');
      // A (re)joining member starts with the history up to now counted as delivered and read.
      const upsert = this.stmt(
        `INSERT INTO members (conv_id, user_id, admin, joined_at, delivered, read) VALUES (?, ?, 0, ?, ?, ?)
         ON CONFLICT (conv_id, user_id) DO UPDATE SET active = 1, admin = 0, joined_at = excluded.joined_at,
           delivered = MAX(delivered, excluded.delivered), read = MAX(read, excluded.read)`,
      );
      const now = Date.now();
      for (const u of fresh) upsert.run(conv, u, now, row.last_seq, row.last_seq);
      const log = new LogWriter(this.stmt.bind(this));
      for (const u of fresh) log.event(u, { k: 'conv', change: 'joined', conv, by }, conv);
      for (const u of current) log.event(u, { k: 'conv', change: 'members', conv, by }, conv);
      return log.flush();
    });
  }

  async removeMember(conv: ConversationId, user: UserId, by: UserId, change: 'left' | 'removed'): Promise<Appended> {
    return this.write(() => {
      this.requireGroup(conv);
      const res = this.stmt('UPDATE members SET active = 0, admin = 0 WHERE conv_id = ? AND user_id = ? AND active = 1').run(conv, user);
      if (res.changes === 0) throw new ParleyError('NOT_MEMBER');
      const log = new LogWriter(this.stmt.bind(this));
      log.event(user, { k: 'conv', change, conv, by }, conv);
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'members', conv, by }, conv);
      // The leaver no longer holds the minimum back.
      new Watermarks(this.stmt.bind(this)).settle(conv, log);
      return log.flush();
    });
  }

  async setAdmin(conv: ConversationId, user: UserId, admin: boolean, by: UserId): Promise<Appended> {
    return this.write(() => {
      this.requireGroup(conv);
      const cur = this.stmt('SELECT admin FROM members WHERE conv_id = ? AND user_id = ? AND active = 1').get(conv, user) as { admin: number } | undefined;
      if (!cur) throw new ParleyError('NOT_MEMBER');
      if ((cur.admin === 1) === admin) return new Map();
      this.stmt('UPDATE members SET admin = ? WHERE conv_id = ? AND user_id = ?').run(admin ? 1 : 0, conv, user);
      const log = new LogWriter(this.stmt.bind(this));
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'members', conv, by }, conv);
      return log.flush();
    });
  }

  async rename(conv: ConversationId, name: string, by: UserId): Promise<Appended> {
    return this.write(() => {
      if (this.requireGroup(conv).name === name) return new Map();
      this.stmt('UPDATE conversations SET name = ? WHERE id = ?').run(name, conv);
      const log = new LogWriter(this.stmt.bind(this));
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'renamed', conv, by }, conv);
      return log.flush();
    });
  }

  async isMember(conv: ConversationId, user: UserId): Promise<boolean> {
    return this.stmt('SELECT 1 FROM members WHERE conv_id = ? AND user_id = ? AND active = 1').get(conv, user) !== undefined;
  }

  async memberIds(conv: ConversationId): Promise<UserId[]> {
    return this.activeUsers(conv);
  }

  async shareConversation(a: UserId, b: UserId): Promise<boolean> {
    const r = this.stmt(
      'SELECT 1 FROM members x JOIN members y ON y.conv_id = x.conv_id WHERE x.user_id = ? AND y.user_id = ? AND x.active = 1 AND y.active = 1 LIMIT 1',
    ).get(a, b);
    return r !== undefined;
  }

  // --- messages ---

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult> {
    return this.write(() => {
      const log = new LogWriter(this.stmt.bind(this));
      const { outcomes, touched } = appendBatch(this.stmt.bind(this), batch, log, (conv) => this.activeUsers(conv), this.runThreshold);
      if (touched.size > 0) {
        const marks = new Watermarks(this.stmt.bind(this));
        for (const conv of touched) marks.settle(conv, log);
      }
      return { outcomes, appended: log.flush() };
    });
  }

  async history(conv: ConversationId, page: { before?: Seq; after?: Seq; limit: number }): Promise<{ messages: Message[]; more: boolean }> {
    const limit = page.limit + 1;
    let rows: MessageRow[];
    if (page.after !== undefined) {
      // Forward paging; a `before` given too bounds the range from above.
      const below = page.before ?? Number.MAX_SAFE_INTEGER;
      rows = this.stmt('SELECT * FROM messages WHERE conv_id = ? AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?').all(conv, page.after, below, limit) as MessageRow[];
      const more = rows.length > page.limit;
      return { messages: rows.slice(0, page.limit).map(toMessage), more };
    }
    const before = page.before ?? Number.MAX_SAFE_INTEGER;
    rows = this.stmt('SELECT * FROM messages WHERE conv_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?').all(conv, before, limit) as MessageRow[];
    const more = rows.length > page.limit;
    return { messages: rows.slice(0, page.limit).reverse().map(toMessage), more };
  }

  // --- logs ---

  async readLog(user: UserId, after: Cursor, limit: number): Promise<CursorEvent[]> {
    // Rows and runs from one snapshot: another process sharing the file may commit in between.
    return this.db.transaction(() => readLogWithRuns(this.stmt.bind(this), user, after, limit)).deferred();
  }

  async head(user: UserId): Promise<Cursor> {
    const r = this.stmt(EFFECTIVE_HEAD).get(user) as { head: number } | undefined;
    return r?.head ?? 0;
  }

  // --- receipts ---

  async applyAcks(batch: readonly AckRequest[]): Promise<Appended> {
    return this.write(() => {
      const touched = applyAckBatch(this.stmt.bind(this), batch);
      const log = new LogWriter(this.stmt.bind(this));
      const marks = new Watermarks(this.stmt.bind(this));
      for (const conv of touched) marks.settle(conv, log);
      return log.flush();
    });
  }

  async applyReads(batch: readonly ReadRequest[]): Promise<Appended> {
    return this.write(() => {
      const last = this.stmt('SELECT last_seq FROM conversations WHERE id = ?');
      const log = new LogWriter(this.stmt.bind(this));
      const marks = new Watermarks(this.stmt.bind(this));
      const touched = new Set<ConversationId>();
      for (const r of batch) {
        const c = last.get(r.conv) as { last_seq: number } | undefined;
        if (!c) continue;
        const seq = Math.min(r.seq, c.last_seq);
        if (seq <= 0 || !marks.read(r.conv, r.user, seq)) continue;
        log.event(r.user, { k: 'read', conv: r.conv, seq }, r.conv);
        touched.add(r.conv);
      }
      for (const conv of touched) marks.settle(conv, log);
      return log.flush();
    });
  }

  async messageInfo(conv: ConversationId, seq: Seq): Promise<{ user: UserId; handle: string; delivered: boolean; read: boolean }[]> {
    return this.membersOf(conv).map((m) => ({ user: m.user, handle: m.handle, delivered: m.delivered >= seq, read: m.read >= seq }));
  }
}
