/**
 * Appending to user logs inside an open SQLite transaction. Collects what it appended so the store
 * can hand it back to the caller for live delivery.
 */
import type Database from 'better-sqlite3';
import type { ConversationId, CursorEvent, LogEvent, Message, UserId } from '@parley/protocol';
import type { Appended } from '../Store.ts';

export class LogWriter {
  private readonly bumpHead: Database.Statement;
  private readonly insert: Database.Statement;
  readonly appended: Appended = new Map();

  constructor(prepare: (sql: string) => Database.Statement) {
    this.bumpHead = prepare('UPDATE users SET head = head + 1 WHERE id = ? RETURNING head');
    this.insert = prepare('INSERT INTO events (user_id, cursor, kind, conv_id, seq, payload) VALUES (?, ?, ?, ?, ?, ?)');
  }

  private push(user: UserId, ev: CursorEvent): void {
    let list = this.appended.get(user);
    if (!list) this.appended.set(user, (list = []));
    list.push(ev);
  }

  private nextCursor(user: UserId): number {
    const row = this.bumpHead.get(user) as { head: number } | undefined;
    if (!row) throw new Error(`no such user ${user}`);
    return row.head;
  }

  /** A message event stores only its reference; the body lives once in `messages`. */
  message(user: UserId, msg: Message): void {
    const c = this.nextCursor(user);
    this.insert.run(user, c, 'message', msg.conv, msg.seq, null);
    this.push(user, { c, e: { k: 'message', msg } });
  }

  event(user: UserId, e: Exclude<LogEvent, { k: 'message' }>, conv: ConversationId): void {
    const c = this.nextCursor(user);
    this.insert.run(user, c, e.k, conv, null, JSON.stringify(e));
    this.push(user, { c, e });
  }
}
