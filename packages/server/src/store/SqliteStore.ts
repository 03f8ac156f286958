/**
 * The embedded store: one SQLite file in WAL mode, driven synchronously by better-sqlite3. Every
 * Store call is one transaction; the group commit of messages happens above it (chat/WriteBatcher)
 * by handing several messages to one appendMessages call.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ParleyError, type ConversationId, type Cursor, type CursorEvent, type DeviceId, type Message, type Seq, type UserId } from '@parley/protocol';
import type {
  AckRequest,
  AppendOutcome,
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
import { sqliteMigrations } from './sqlite/migrations.ts';
import { LogWriter } from './sqlite/log.ts';
import { Watermarks } from './sqlite/watermarks.ts';
import { sqliteEvent, toMember, type ConversationRow, type MemberRow, type SqliteEventRow } from './sqlite/rows.ts';
import { conversationBase, toDevice, toMessage, toUser, type DeviceRow, type MessageRow, type UserRow } from './rows.ts';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. Its folder is created. */
  path: string;
}

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

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last ones.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
  }

  /** Run `fn` in one IMMEDIATE transaction, mapping driver errors to stable codes. */
  private tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      wrap(err);
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
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let i = version; i < sqliteMigrations.length; i++) {
      this.tx(() => {
        this.db.exec(sqliteMigrations[i] ?? '');
        this.db.pragma(`user_version = ${i + 1}`);
      });
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- accounts ---

  async createUser(user: { id: UserId; handle: string; passwordHash: string; createdAt: number }): Promise<void> {
    try {
      this.stmt('INSERT INTO users (id, handle, handle_lc, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
        user.id,
        user.handle,
        user.handle.toLowerCase(),
        user.passwordHash,
        user.createdAt,
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ParleyError('HANDLE_TAKEN');
      wrap(err);
    }
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
    this.stmt('UPDATE users SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?').run(ts, user);
  }

  async createDevice(d: { id: DeviceId; user: UserId; name: string; refreshHash: string; createdAt: number }): Promise<void> {
    this.stmt('INSERT INTO devices (id, user_id, name, refresh_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(
      d.id,
      d.user,
      d.name,
      d.refreshHash,
      d.createdAt,
    );
  }

  async device(id: DeviceId): Promise<DeviceRecord | null> {
    const r = this.stmt('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    return r ? toDevice(r) : null;
  }

  async rotateRefresh(device: DeviceId, oldHash: string, newHash: string): Promise<boolean> {
    const res = this.stmt('UPDATE devices SET refresh_hash = ? WHERE id = ? AND refresh_hash = ? AND revoked = 0').run(newHash, device, oldHash);
    return res.changes === 1;
  }

  async revokeDevice(device: DeviceId): Promise<void> {
    this.stmt("UPDATE devices SET revoked = 1, refresh_hash = '' WHERE id = ?").run(device);
  }

  // --- conversations ---

  async directBetween(a: UserId, b: UserId): Promise<ConversationId | null> {
    const r = this.stmt('SELECT id FROM conversations WHERE direct_key = ?').get(directKey(a, b)) as { id: string } | undefined;
    return r ? (r.id as ConversationId) : null;
  }

  async createConversation(conv: NewConversation): Promise<{ id: ConversationId; created: boolean; appended: Appended }> {
    return this.tx(() => {
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
      return { id: conv.id, created: true, appended: log.appended };
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
    return (this.stmt('SELECT user_id FROM members WHERE conv_id = ? AND active = 1').all(conv) as { user_id: string }[]).map((r) => r.user_id as UserId);
  }

  private requireGroup(conv: ConversationId): ConversationRow {
    const r = this.stmt('SELECT * FROM conversations WHERE id = ?').get(conv) as ConversationRow | undefined;
    if (!r) throw new ParleyError('NOT_FOUND', 'no such conversation');
    if (r.kind !== 'group') throw new ParleyError('FORBIDDEN', 'direct conversations have fixed members');
    return r;
  }

  async addMembers(conv: ConversationId, users: readonly UserId[], by: UserId, maxMembers: number): Promise<Appended> {
    return this.tx(() => {
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
      return log.appended;
    });
  }

  async removeMember(conv: ConversationId, user: UserId, by: UserId, change: 'left' | 'removed'): Promise<Appended> {
    return this.tx(() => {
      this.requireGroup(conv);
      const res = this.stmt('UPDATE members SET active = 0, admin = 0 WHERE conv_id = ? AND user_id = ? AND active = 1').run(conv, user);
      if (res.changes === 0) throw new ParleyError('NOT_MEMBER');
      const log = new LogWriter(this.stmt.bind(this));
      log.event(user, { k: 'conv', change, conv, by }, conv);
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'members', conv, by }, conv);
      // The leaver no longer holds the minimum back.
      new Watermarks(this.stmt.bind(this)).settle(conv, log);
      return log.appended;
    });
  }

  async setAdmin(conv: ConversationId, user: UserId, admin: boolean, by: UserId): Promise<Appended> {
    return this.tx(() => {
      this.requireGroup(conv);
      const cur = this.stmt('SELECT admin FROM members WHERE conv_id = ? AND user_id = ? AND active = 1').get(conv, user) as { admin: number } | undefined;
      if (!cur) throw new ParleyError('NOT_MEMBER');
      if ((cur.admin === 1) === admin) return new Map();
      this.stmt('UPDATE members SET admin = ? WHERE conv_id = ? AND user_id = ?').run(admin ? 1 : 0, conv, user);
      const log = new LogWriter(this.stmt.bind(this));
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'members', conv, by }, conv);
      return log.appended;
    });
  }

  async rename(conv: ConversationId, name: string, by: UserId): Promise<Appended> {
    return this.tx(() => {
      if (this.requireGroup(conv).name === name) return new Map();
      this.stmt('UPDATE conversations SET name = ? WHERE id = ?').run(name, conv);
      const log = new LogWriter(this.stmt.bind(this));
      for (const u of this.activeUsers(conv)) log.event(u, { k: 'conv', change: 'renamed', conv, by }, conv);
      return log.appended;
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
    return this.tx(() => {
      const existing = this.stmt('SELECT conv_id, seq, ts FROM messages WHERE sender = ? AND cmid = ?');
      const membership = this.stmt('SELECT active FROM members WHERE conv_id = ? AND user_id = ?');
      const bump = this.stmt('UPDATE conversations SET last_seq = last_seq + 1, active_at = ? WHERE id = ? RETURNING last_seq');
      const insert = this.stmt('INSERT INTO messages (conv_id, seq, sender, cmid, kind, body, ts) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const self = this.stmt('UPDATE members SET delivered = MAX(delivered, ?), read = MAX(read, ?) WHERE conv_id = ? AND user_id = ?');
      const log = new LogWriter(this.stmt.bind(this));
      const marks = new Watermarks(this.stmt.bind(this));
      const membersCache = new Map<string, UserId[]>();
      const touched = new Set<ConversationId>();
      const outcomes: AppendOutcome[] = [];
      for (const m of batch) {
        const dup = existing.get(m.from, m.cmid) as { conv_id: string; seq: number; ts: number } | undefined;
        if (dup) {
          outcomes.push({ ok: true, seq: dup.seq, ts: dup.ts, duplicate: true });
          continue;
        }
        const mem = membership.get(m.conv, m.from) as { active: number } | undefined;
        if (!mem || mem.active !== 1) {
          const exists = this.stmt('SELECT 1 FROM conversations WHERE id = ?').get(m.conv);
          outcomes.push({ ok: false, code: exists ? 'NOT_MEMBER' : 'NOT_FOUND' });
          continue;
        }
        const { last_seq: seq } = bump.get(m.ts, m.conv) as { last_seq: number };
        insert.run(m.conv, seq, m.from, m.cmid, m.kind, m.body, m.ts);
        self.run(seq, seq, m.conv, m.from);
        let members = membersCache.get(m.conv);
        if (!members) membersCache.set(m.conv, (members = this.activeUsers(m.conv)));
        const msg: Message = { conv: m.conv, seq, from: m.from, cmid: m.cmid, kind: m.kind, body: m.body, ts: m.ts };
        for (const u of members) log.message(u, msg);
        touched.add(m.conv);
        outcomes.push({ ok: true, seq, ts: m.ts, duplicate: false });
      }
      for (const conv of touched) marks.settle(conv, log);
      return { outcomes, appended: log.appended };
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
    const rows = this.stmt(
      `SELECT e.cursor, e.kind, e.conv_id, e.seq, e.payload,
              m.sender AS m_sender, m.cmid AS m_cmid, m.kind AS m_kind, m.body AS m_body, m.ts AS m_ts
         FROM events e LEFT JOIN messages m ON e.kind = 'message' AND m.conv_id = e.conv_id AND m.seq = e.seq
        WHERE e.user_id = ? AND e.cursor > ? ORDER BY e.cursor LIMIT ?`,
    ).all(user, after, limit) as SqliteEventRow[];
    return rows.map(sqliteEvent);
  }

  async head(user: UserId): Promise<Cursor> {
    const r = this.stmt('SELECT head FROM users WHERE id = ?').get(user) as { head: number } | undefined;
    return r?.head ?? 0;
  }

  // --- receipts ---

  async applyAcks(batch: readonly AckRequest[]): Promise<Appended> {
    return this.tx(() => {
      const userRow = this.stmt('SELECT head, delivered_cursor FROM users WHERE id = ?');
      const setDevice = this.stmt('UPDATE devices SET acked = MAX(acked, ?) WHERE id = ? AND user_id = ?');
      const setUser = this.stmt('UPDATE users SET delivered_cursor = ? WHERE id = ?');
      const covered = this.stmt(
        "SELECT conv_id, MAX(seq) AS seq FROM events WHERE user_id = ? AND cursor > ? AND cursor <= ? AND kind = 'message' GROUP BY conv_id",
      );
      const log = new LogWriter(this.stmt.bind(this));
      const marks = new Watermarks(this.stmt.bind(this));
      const touched = new Set<ConversationId>();
      for (const a of batch) {
        const u = userRow.get(a.user) as { head: number; delivered_cursor: number } | undefined;
        if (!u) continue;
        const cursor = Math.min(a.cursor, u.head);
        setDevice.run(cursor, a.device, a.user);
        if (cursor <= u.delivered_cursor) continue;
        setUser.run(cursor, a.user);
        for (const r of covered.all(a.user, u.delivered_cursor, cursor) as { conv_id: string; seq: number }[]) {
          if (marks.delivered(r.conv_id as ConversationId, a.user, r.seq)) touched.add(r.conv_id as ConversationId);
        }
      }
      for (const conv of touched) marks.settle(conv, log);
      return log.appended;
    });
  }

  async applyReads(batch: readonly ReadRequest[]): Promise<Appended> {
    return this.tx(() => {
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
      return log.appended;
    });
  }

  async messageInfo(conv: ConversationId, seq: Seq): Promise<{ user: UserId; handle: string; delivered: boolean; read: boolean }[]> {
    return this.membersOf(conv).map((m) => ({ user: m.user, handle: m.handle, delivered: m.delivered >= seq, read: m.read >= seq }));
  }
}
