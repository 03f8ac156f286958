/**
 * The store port: everything Parley keeps durably. Implementations: SqliteStore (embedded default)
 * and PostgresStore (cluster). One test suite (test/store) runs against both.
 *
 * Contract, for every implementation:
 * - Every method is async and either commits entirely or not at all (one transaction per call,
 *   whatever the batch size; an implementation may commit several calls together, each atomic in
 *   its own savepoint). A method that resolved has committed; a rejected one stored nothing.
 * - Per-conversation `seq` and per-user `cursor` are dense (1, 2, 3 ...) and strictly increasing,
 *   even when several nodes write to one store concurrently.
 * - appendMessages is idempotent on (sender, cmid): a retry stores nothing and returns the original
 *   seq and ts with duplicate = true (also when both copies are in the same batch).
 * - Watermarks (delivered, read) only ever move forward; read implies delivered.
 * - Every method that appends to user logs returns what it appended (`Appended`), so the caller can
 *   push it live without reading it back. Events in `Appended` are in cursor order per user.
 * - Failures of the backing service reject with ParleyError('UNAVAILABLE') (retryable); domain
 *   refusals reject with the matching code (HANDLE_TAKEN, NOT_MEMBER, NOT_FOUND, GROUP_FULL ...).
 */
import type { ConversationId, ConversationKind, Cursor, CursorEvent, DeviceId, Message, Seq, UserId } from '@parley/protocol';

export interface UserRecord {
  id: UserId;
  handle: string;
  passwordHash: string;
  createdAt: number;
  lastSeen: number | null;
}

export interface DeviceRecord {
  id: DeviceId;
  user: UserId;
  name: string;
  refreshHash: string;
  createdAt: number;
  revoked: boolean;
  /** Highest cursor this device acknowledged. */
  acked: Cursor;
}

export interface MemberRecord {
  user: UserId;
  handle: string;
  admin: boolean;
  delivered: Seq;
  read: Seq;
  joinedAt: number;
}

export interface ConversationRecord {
  id: ConversationId;
  kind: ConversationKind;
  /** Group name; '' for a direct conversation. */
  name: string;
  createdAt: number;
  lastSeq: Seq;
  /** ts of the last message, or createdAt. */
  activeAt: number;
  /** All-members minimum watermarks. */
  delivered: Seq;
  read: Seq;
  /** Active members only. */
  members: MemberRecord[];
}

/** A conversation as one member sees it in a list. */
export interface ConversationSummary extends ConversationRecord {
  lastMessage: Message | null;
  unread: number;
}

/** Events appended to user logs by one call, grouped by user, each list in cursor order. */
export type Appended = Map<UserId, CursorEvent[]>;

/**
 * Conversations with at least this many active members keep their messages in members' logs as
 * runs (stretches of cursors) instead of one event row per member, in both stores.
 */
export const DEFAULT_RUN_THRESHOLD = 32;

export interface NewMessage {
  conv: ConversationId;
  from: UserId;
  cmid: string;
  kind: string;
  body: string;
  /** Server time to stamp on the message if it is new. */
  ts: number;
}

export type AppendOutcome =
  | { ok: true; seq: Seq; ts: number; duplicate: boolean }
  | { ok: false; code: 'NOT_MEMBER' | 'NOT_FOUND' };

export interface AppendResult {
  /** One outcome per input message, in input order. */
  outcomes: AppendOutcome[];
  appended: Appended;
}

export interface AckRequest {
  user: UserId;
  device: DeviceId;
  /** Cumulative: every event of the user's log up to here reached this device. */
  cursor: Cursor;
}

export interface ReadRequest {
  user: UserId;
  conv: ConversationId;
  seq: Seq;
}

export interface NewConversation {
  id: ConversationId;
  kind: ConversationKind;
  name: string;
  createdAt: number;
  by: UserId;
  /** For kind 'direct': exactly two distinct users; the pair must not have one yet. */
  members: { user: UserId; admin: boolean }[];
}

export interface Store {
  /** Create or upgrade the schema. Safe to call on every start and from several nodes. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // --- accounts ---
  /** Rejects with HANDLE_TAKEN when the handle exists (case-insensitive). */
  createUser(user: { id: UserId; handle: string; passwordHash: string; createdAt: number }): Promise<void>;
  userByHandle(handle: string): Promise<UserRecord | null>;
  usersById(ids: readonly UserId[]): Promise<UserRecord[]>;
  setLastSeen(user: UserId, ts: number): Promise<void>;
  createDevice(device: { id: DeviceId; user: UserId; name: string; refreshHash: string; createdAt: number }): Promise<void>;
  device(id: DeviceId): Promise<DeviceRecord | null>;
  /** Compare-and-set of the refresh token hash; false when `oldHash` no longer matches or revoked. */
  rotateRefresh(device: DeviceId, oldHash: string, newHash: string): Promise<boolean>;
  revokeDevice(device: DeviceId): Promise<void>;

  // --- conversations ---
  /** The direct conversation between two users, if any. */
  directBetween(a: UserId, b: UserId): Promise<ConversationId | null>;
  /**
   * Creates it and appends a `created` conv event to each member's log. For a direct pair that
   * already has one (also when two nodes race), resolves with the existing id, created = false and
   * nothing appended.
   */
  createConversation(conv: NewConversation): Promise<{ id: ConversationId; created: boolean; appended: Appended }>;
  conversation(id: ConversationId): Promise<ConversationRecord | null>;
  /** The user's active conversations, most recently active first. */
  conversationsOf(user: UserId): Promise<ConversationSummary[]>;
  /** Summary of one conversation for one member; null when not a member. */
  conversationFor(user: UserId, id: ConversationId): Promise<ConversationSummary | null>;
  /** Adds members (already-active ones are skipped). Rejects GROUP_FULL past `maxMembers`. Appends `joined` to new members, `members` to others. */
  addMembers(conv: ConversationId, users: readonly UserId[], by: UserId, maxMembers: number): Promise<Appended>;
  /** Marks the member inactive. Appends `left`/`removed` to the member and `members` to the rest. */
  removeMember(conv: ConversationId, user: UserId, by: UserId, change: 'left' | 'removed'): Promise<Appended>;
  setAdmin(conv: ConversationId, user: UserId, admin: boolean, by: UserId): Promise<Appended>;
  rename(conv: ConversationId, name: string, by: UserId): Promise<Appended>;
  /** True when the user is an active member of the conversation. */
  isMember(conv: ConversationId, user: UserId): Promise<boolean>;
  /** Active member ids of the conversation (empty when it does not exist). */
  memberIds(conv: ConversationId): Promise<UserId[]>;
  /** True when both users are active members of at least one common conversation. */
  shareConversation(a: UserId, b: UserId): Promise<boolean>;

  // --- messages ---
  /** Group commit: one transaction for the whole batch. See the idempotency contract above. */
  appendMessages(batch: readonly NewMessage[]): Promise<AppendResult>;
  /** Messages with before > seq (newest first, then returned ascending) or seq > after (ascending). */
  history(conv: ConversationId, page: { before?: Seq; after?: Seq; limit: number }): Promise<{ messages: Message[]; more: boolean }>;

  // --- user event logs ---
  /** Events with cursor > after, ascending, at most `limit`. */
  readLog(user: UserId, after: Cursor, limit: number): Promise<CursorEvent[]>;
  /** The highest cursor of the user's log (0 when empty). */
  head(user: UserId): Promise<Cursor>;

  // --- receipts ---
  /**
   * Applies cumulative device acks: records each device's acked cursor and advances the user's
   * `delivered` watermark in every conversation whose message events are covered. When an
   * all-members minimum advances, appends a `receipt` event to the log of each sender of a message
   * in the advanced range. Cursors beyond the user's head are clamped to it.
   */
  applyAcks(batch: readonly AckRequest[]): Promise<Appended>;
  /**
   * Advances read (and delivered) watermarks, clamped to the conversation's lastSeq; appends a
   * `read` event to the reader's log when it moved, and `receipt` events as for acks.
   * Non-members are skipped silently: the caller checks membership first.
   */
  applyReads(batch: readonly ReadRequest[]): Promise<Appended>;
  /** Per-member delivered/read for one message. */
  messageInfo(conv: ConversationId, seq: Seq): Promise<{ user: UserId; handle: string; delivered: boolean; read: boolean }[]>;
}
