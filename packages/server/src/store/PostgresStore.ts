/**
 * The cluster store: PostgreSQL through a `pg` Pool. Several nodes may share one database; the
 * Store contract's density and idempotency guarantees come from row locks taken in one global
 * order (conversations, users, devices; each sorted by id) and from unique indexes, not from
 * anything held in this process. See postgres/ for the pieces.
 */
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { ParleyError } from '@parley/protocol';
import type { ConversationId, Cursor, CursorEvent, DeviceId, Message, Seq, UserId } from '@parley/protocol';
import type {
  AckRequest,
  Appended,
  AppendResult,
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
import * as conversations from './postgres/conversations.ts';
import { NeedsLocks, isForeignKeyViolation, isUniqueViolation } from './postgres/errors.ts';
import * as log from './postgres/log.ts';
import * as messages from './postgres/messages.ts';
import { migrate } from './postgres/migrate.ts';
import * as receipts from './postgres/receipts.ts';
import { CONVERSATION_COLUMNS, toConversation, toDevice, toUser, type ConversationRow, type DeviceRow, type UserRow } from './postgres/rows.ts';
import { inRead, inTx, type TxOptions } from './postgres/tx.ts';
import { query } from './postgres/prepared.ts';

export interface PostgresStoreOptions {
  /** e.g. postgres://user@host:5432/db */
  connectionString: string;
  /** Pool size per node. Default 10. */
  max?: number;
  /** Schema holding Parley's tables (created by migrate()). Default: the server's search_path. */
  schema?: string;
  /** How long to wait for a connection before rejecting UNAVAILABLE. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Conversations with at least this many active members keep their messages in members' logs as
   * runs (postgres/runs.ts) instead of one event row per member. Default 32, at least 2.
   */
  runThreshold?: number;
}


const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** bigint (seqs, cursors, ms timestamps, counts) as a JS number: all stay below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export class PostgresStore implements Store {
  private readonly pool: Pool;
  private readonly schema: string | undefined;
  private readonly runThreshold: number;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new TypeError(`PostgresStore: schema must match ${SCHEMA_NAME}`);
    }
    this.schema = options.schema;
    this.runThreshold = options.runThreshold ?? DEFAULT_RUN_THRESHOLD;
    if (!(this.runThreshold >= 2)) throw new RangeError(`runThreshold must be >= 2, got ${this.runThreshold}`);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      // Set per connection at startup, so every pooled client sees the same tables.
      ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
      types,
    });
    // An idle client whose backend went away emits 'error' on the pool; without a listener that
    // would crash the process. The pool drops that client; the next call maps its own failure.
    this.pool.on('error', () => {});
  }

  private tx<T>(fn: (c: PoolClient, attempt: number) => Promise<T>, opts?: TxOptions): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    return inTx(this.pool, fn, opts);
  }

  /**
   * A writing transaction whose log append may need conversations another transaction holds
   * (NeedsLocks): each attempt gets those every earlier attempt found, to lock first.
   */
  private writeTx<T>(fn: (c: PoolClient, extra: string[], attempt: number) => Promise<T>, opts?: TxOptions): Promise<T> {
    const extra = new Set<string>();
    return this.tx(async (c, attempt) => {
      try {
        return await fn(c, [...extra], attempt);
      } catch (err) {
        if (err instanceof NeedsLocks) for (const id of err.convs) extra.add(id);
        throw err;
      }
    }, opts);
  }

  /** For methods that read with exactly one statement. */
  private read<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ParleyError('UNAVAILABLE', 'store is closed'));
    return inRead(this.pool, fn);
  }

  migrate(): Promise<void> {
    return this.tx((c) => migrate(c, this.schema));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // --- accounts ---

  createUser(user: { id: UserId; handle: string; passwordHash: string; createdAt: number }): Promise<void> {
    return this.tx(async (c) => {
      try {
        await query(c, 'INSERT INTO users (id, handle, password_hash, created_at) VALUES ($1, $2, $3, $4)', [
          user.id, user.handle, user.passwordHash, user.createdAt,
        ]);
      } catch (err) {
        if (isUniqueViolation(err, 'users_handle_lc')) throw new ParleyError('HANDLE_TAKEN');
        throw err;
      }
    });
  }

  userByHandle(handle: string): Promise<UserRecord | null> {
    return this.read(async (c) => {
      const { rows } = await query<UserRow>(c, 'SELECT * FROM users WHERE lower(handle) = lower($1)', [handle]);
      return rows[0] ? toUser(rows[0]) : null;
    });
  }

  /** In the order asked; unknown ids are left out. */
  usersById(ids: readonly UserId[]): Promise<UserRecord[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.read(async (c) => {
      const { rows } = await query<UserRow>(c, 'SELECT * FROM users WHERE id = ANY($1::text[])', [ids]);
      const byId = new Map(rows.map((r) => [r.id, toUser(r)]));
      return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []);
    });
  }

  /** Only forward: nodes with skewed clocks or late writes cannot move it back. */
  setLastSeen(user: UserId, ts: number): Promise<void> {
    return this.tx(async (c) => {
      await query(c, 'UPDATE users SET last_seen = greatest(last_seen, $2) WHERE id = $1', [user, ts]);
    });
  }

  createDevice(device: { id: DeviceId; user: UserId; name: string; refreshHash: string; createdAt: number }): Promise<void> {
    return this.tx(async (c) => {
      try {
        await query(c, 'INSERT INTO devices (id, user_id, name, refresh_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [
          device.id, device.user, device.name, device.refreshHash, device.createdAt,
        ]);
      } catch (err) {
        if (isForeignKeyViolation(err)) throw new ParleyError('NOT_FOUND', 'no such user');
        throw err;
      }
    });
  }

  device(id: DeviceId): Promise<DeviceRecord | null> {
    return this.read(async (c) => {
      const { rows } = await query<DeviceRow>(c, 'SELECT * FROM devices WHERE id = $1', [id]);
      return rows[0] ? toDevice(rows[0]) : null;
    });
  }

  rotateRefresh(device: DeviceId, oldHash: string, newHash: string): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await query(c, 'UPDATE devices SET refresh_hash = $3 WHERE id = $1 AND refresh_hash = $2 AND NOT revoked', [device, oldHash, newHash]);
      return r.rowCount === 1;
    });
  }

  revokeDevice(device: DeviceId): Promise<void> {
    return this.tx(async (c) => {
      await query(c, 'UPDATE devices SET revoked = true WHERE id = $1', [device]);
    });
  }

  // --- conversations ---

  directBetween(a: UserId, b: UserId): Promise<ConversationId | null> {
    return this.read(async (c) => {
      const { rows } = await query<{ id: string }>(c, 'SELECT id FROM conversations WHERE direct_key = $1', [conversations.directKey(a, b)]);
      return (rows[0]?.id as ConversationId | undefined) ?? null;
    });
  }

  createConversation(conv: NewConversation): Promise<{ id: ConversationId; created: boolean; appended: Appended }> {
    return this.writeTx((c, extra) => conversations.createConversation(c, conv, extra));
  }

  conversation(id: ConversationId): Promise<ConversationRecord | null> {
    return this.read(async (c) => {
      const { rows } = await query<ConversationRow>(c, `SELECT ${CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = $1`, [id]);
      return rows[0] ? toConversation(rows[0]) : null;
    });
  }

  conversationsOf(user: UserId): Promise<ConversationSummary[]> {
    return this.read((c) => conversations.summaries(c, user));
  }

  conversationFor(user: UserId, id: ConversationId): Promise<ConversationSummary | null> {
    return this.read(async (c) => (await conversations.summaries(c, user, id))[0] ?? null);
  }

  addMembers(conv: ConversationId, users: readonly UserId[], by: UserId, maxMembers: number): Promise<Appended> {
    return this.writeTx((c, extra) => conversations.addMembers(c, conv, users, by, maxMembers, extra));
  }

  removeMember(conv: ConversationId, user: UserId, by: UserId, change: 'left' | 'removed'): Promise<Appended> {
    return this.writeTx((c, extra) => conversations.removeMember(c, conv, user, by, change, extra));
  }

  setAdmin(conv: ConversationId, user: UserId, admin: boolean, by: UserId): Promise<Appended> {
    return this.writeTx((c, extra) => conversations.setAdmin(c, conv, user, admin, by, extra));
  }

  rename(conv: ConversationId, name: string, by: UserId): Promise<Appended> {
    return this.writeTx((c, extra) => conversations.rename(c, conv, name, by, extra));
  }

  isMember(conv: ConversationId, user: UserId): Promise<boolean> {
    return this.read(async (c) => {
      const { rowCount } = await query(c, 'SELECT 1 FROM members WHERE conv_id = $1 AND user_id = $2 AND active', [conv, user]);
      return rowCount === 1;
    });
  }

  memberIds(conv: ConversationId): Promise<UserId[]> {
    return this.read(async (c) => {
      const { rows } = await query<{ user_id: string }>(c, 'SELECT user_id FROM members WHERE conv_id = $1 AND active ORDER BY joined_at, user_id', [conv]);
      return rows.map((r) => r.user_id as UserId);
    });
  }

  shareConversation(a: UserId, b: UserId): Promise<boolean> {
    return this.read(async (c) => {
      const { rows } = await query<{ shared: boolean }>(c, 
        `SELECT EXISTS (SELECT 1 FROM members x JOIN members y ON y.conv_id = x.conv_id
                         WHERE x.user_id = $1 AND y.user_id = $2 AND x.active AND y.active) AS shared`,
        [a, b],
      );
      return rows[0]?.shared === true;
    });
  }

  // --- messages ---

  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult> {
    if (batch.length === 0) return Promise.resolve({ outcomes: [], appended: new Map() });
    // Its first statement is a function call (cheap to plan): the BEGIN goes with it. From the
    // second attempt on, copies are looked for (a first attempt that meets one fails on
    // messages_idem) and the conversations an attempt found held elsewhere are locked up front.
    return this.writeTx((c, extra, attempt) => messages.appendMessages(c, batch, this.runThreshold, attempt > 1, extra), { bundleBegin: true });
  }

  history(conv: ConversationId, page: { before?: Seq; after?: Seq; limit: number }): Promise<{ messages: Message[]; more: boolean }> {
    return this.read((c) => messages.history(c, conv, page));
  }

  // --- user event logs ---

  readLog(user: UserId, after: Cursor, limit: number): Promise<CursorEvent[]> {
    return this.read((c) => log.readLog(c, user, after, limit));
  }

  head(user: UserId): Promise<Cursor> {
    return this.read((c) => log.headOf(c, user));
  }

  // --- receipts ---

  applyAcks(batch: readonly AckRequest[]): Promise<Appended> {
    if (batch.length === 0) return Promise.resolve(new Map());
    // The BEGIN goes with the first read (bundle.ts); conversations an attempt found held
    // elsewhere are locked up front in the next.
    return this.writeTx((c, extra) => receipts.applyAcks(c, batch, extra), { bundleBegin: true });
  }

  applyReads(batch: readonly ReadRequest[]): Promise<Appended> {
    if (batch.length === 0) return Promise.resolve(new Map());
    return this.writeTx((c, extra) => receipts.applyReads(c, batch, extra));
  }

  messageInfo(conv: ConversationId, seq: Seq): Promise<{ user: UserId; handle: string; delivered: boolean; read: boolean }[]> {
    return this.read((c) => receipts.messageInfo(c, conv, seq));
  }
}
