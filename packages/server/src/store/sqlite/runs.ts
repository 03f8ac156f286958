/**
 * Message runs: the user-log rows of large groups, stored once per stretch instead of once per
 * message and member.
 *
 * A user's log is a dense sequence of cursors. For a message in a large group, writing one log
 * row per member (and bumping each member's head) dirties one B-tree page per member: a
 * 1,000-member group rewrites ~1,000 pages per message, most of a commit's cost. A run instead
 * says "cursors base, base+1, ... of this user are the messages first_seq, first_seq+1, ... of
 * conversation C": while a member's log receives nothing but C's messages, each new message of C
 * extends the member's open run implicitly (the run ends at C's last_seq), and the message costs
 * no per-member write at all. The run is closed (its end recorded) when anything else enters the
 * member's log: a message of another conversation, a receipt, a membership change.
 *
 * Invariants (per user): at most one open run (`last_seq IS NULL`); while it is open
 * `heads.head = base_cursor - 1` and the user's effective head is
 * `heads.head + (conversation.last_seq - first_seq + 1)`; once closed, `end_cursor` is the cursor
 * of its last message and `heads.head` was set to it. Runs and log rows never overlap: together
 * they cover every cursor from 1 to the head exactly once. Every read and write happens inside
 * the caller's transaction; nothing is cached across transactions (several processes may share
 * the file).
 */
import type Database from 'better-sqlite3';
import type { ConversationId, UserId } from '@parley/protocol';

export interface OpenRun {
  conv: ConversationId;
  base: number;
  first: number;
}

/** Open runs of a set of users, read and changed inside one store call's transaction. */
export class Runs {
  private readonly state = new Map<UserId, OpenRun | null>();
  /** Stored heads (heads.head) read by storedHead and kept current by close(). */
  private readonly heads = new Map<UserId, number>();
  /** Whether any user has an open run; when none, lookups skip the per-user read. */
  private anyOpen: boolean | undefined;
  private readonly existsOpen: Database.Statement;
  private readonly loadOne: Database.Statement;
  private readonly closeRun: Database.Statement;
  private readonly setHead: Database.Statement;
  private readonly openRun: Database.Statement;
  private readonly openOnConv: Database.Statement;
  private readonly headOf: Database.Statement;

  constructor(prepare: (sql: string) => Database.Statement) {
    this.existsOpen = prepare('SELECT 1 FROM runs WHERE last_seq IS NULL LIMIT 1');
    this.loadOne = prepare('SELECT conv_id, base_cursor, first_seq FROM runs WHERE user_id = ? AND last_seq IS NULL');
    this.closeRun = prepare('UPDATE runs SET last_seq = ?, end_cursor = ? WHERE user_id = ? AND base_cursor = ?');
    this.setHead = prepare('UPDATE heads SET head = ? WHERE user_id = ?');
    this.openRun = prepare('INSERT INTO runs (user_id, base_cursor, conv_id, first_seq) VALUES (?, ?, ?, ?)');
    // raw: each row as [user_id, base_cursor, first_seq], no object per member.
    this.openOnConv = prepare('SELECT user_id, base_cursor, first_seq FROM runs WHERE conv_id = ? AND last_seq IS NULL').raw();
    this.headOf = prepare('SELECT head FROM heads WHERE user_id = ?');
  }

  /** The user's open run (null: none), read once per call. */
  get(user: UserId): OpenRun | null {
    let r = this.state.get(user);
    if (r === undefined) {
      this.anyOpen ??= this.existsOpen.get() !== undefined;
      if (!this.anyOpen) return null;
      const row = this.loadOne.get(user) as { conv_id: string; base_cursor: number; first_seq: number } | undefined;
      r = row ? { conv: row.conv_id as ConversationId, base: row.base_cursor, first: row.first_seq } : null;
      this.state.set(user, r);
    }
    return r;
  }

  /**
   * The open runs on `conv`, in one range read of the runs_open_conv index: in a large group most
   * members' runs continue there, and they need no read of their own. Members not found have no
   * open run or one elsewhere; get() reads those one by one.
   */
  loadMembers(conv: ConversationId): void {
    this.anyOpen ??= this.existsOpen.get() !== undefined;
    if (!this.anyOpen) return;
    const rows = this.openOnConv.all(conv) as [UserId, number, number][];
    for (const [user, base, first] of rows) {
      if (!this.state.has(user)) this.state.set(user, { conv, base, first });
    }
  }

  /** The stored head (heads.head) of a user; for a user without an open run that is its head. */
  storedHead(user: UserId): number {
    let h = this.heads.get(user);
    if (h === undefined) {
      h = (this.headOf.get(user) as { head: number } | undefined)?.head;
      if (h === undefined) throw new Error(`no such user ${user}`);
      this.heads.set(user, h);
    }
    return h;
  }

  /** Close the user's open run at message `lastSeq` of its conversation; returns the user's head. */
  close(user: UserId, lastSeq: number): number {
    const r = this.get(user);
    if (!r) throw new Error(`no open run for ${user}`);
    const end = r.base + lastSeq - r.first;
    this.closeRun.run(lastSeq, end, user, r.base);
    this.setHead.run(end, user);
    this.heads.set(user, end);
    this.state.set(user, null);
    return end;
  }

  /** Open a run on `conv` at message `first` for a user whose head is `head` and has no open run. */
  open(user: UserId, conv: ConversationId, first: number, head: number): OpenRun {
    const r: OpenRun = { conv, base: head + 1, first };
    this.openRun.run(user, r.base, conv, first);
    this.state.set(user, r);
    this.anyOpen = true;
    return r;
  }
}
