/**
 * Receipt watermarks inside an open SQLite transaction: advancing a member's delivered/read, and
 * turning an advance of the all-members minimum into `receipt` events for the senders concerned.
 */
import type Database from 'better-sqlite3';
import type { ConversationId, UserId } from '@parley/protocol';
import type { LogWriter } from './log.ts';

export class Watermarks {
  private readonly advanceDelivered: Database.Statement;
  private readonly advanceRead: Database.Statement;
  private readonly mins: Database.Statement;
  private readonly agg: Database.Statement;
  private readonly setAgg: Database.Statement;
  private readonly senders: Database.Statement;

  constructor(prepare: (sql: string) => Database.Statement) {
    this.advanceDelivered = prepare(
      'UPDATE members SET delivered = ? WHERE conv_id = ? AND user_id = ? AND active = 1 AND delivered < ?',
    );
    this.advanceRead = prepare(
      'UPDATE members SET read = ?, delivered = MAX(delivered, ?) WHERE conv_id = ? AND user_id = ? AND active = 1 AND read < ?',
    );
    this.mins = prepare('SELECT MIN(delivered) AS d, MIN(read) AS r FROM members WHERE conv_id = ? AND active = 1');
    this.agg = prepare('SELECT agg_delivered AS d, agg_read AS r FROM conversations WHERE id = ?');
    this.setAgg = prepare('UPDATE conversations SET agg_delivered = ?, agg_read = ? WHERE id = ?');
    // Only senders still in the conversation hear about it: those who left are told nothing more.
    // Two ranges (delivered moved, read moved): only messages whose ticks changed, so the scan is
    // bounded by how far the minimums moved, not by how much of the history is still unread.
    this.senders = prepare(
      `SELECT m.sender FROM messages m JOIN members x ON x.conv_id = m.conv_id AND x.user_id = m.sender AND x.active = 1
        WHERE m.conv_id = ? AND m.seq > ? AND m.seq <= ?
       UNION
       SELECT m.sender FROM messages m JOIN members x ON x.conv_id = m.conv_id AND x.user_id = m.sender AND x.active = 1
        WHERE m.conv_id = ? AND m.seq > ? AND m.seq <= ?`,
    );
  }

  /** True when the member's delivered watermark moved. */
  delivered(conv: ConversationId, user: UserId, seq: number): boolean {
    return this.advanceDelivered.run(seq, conv, user, seq).changes > 0;
  }

  /** True when the member's read watermark moved (delivered follows it). */
  read(conv: ConversationId, user: UserId, seq: number): boolean {
    return this.advanceRead.run(seq, seq, conv, user, seq).changes > 0;
  }

  /**
   * Recompute the all-members minimum; if it advanced, tell each sender of a message whose ticks
   * changed: seq in (old delivered minimum, new one] or in (old read minimum, new one].
   */
  settle(conv: ConversationId, log: LogWriter): void {
    const now = this.mins.get(conv) as { d: number | null; r: number | null };
    const before = this.agg.get(conv) as { d: number; r: number } | undefined;
    if (!before || now.d === null || now.r === null) return;
    const d = Math.max(before.d, now.d);
    const r = Math.max(before.r, now.r);
    if (d === before.d && r === before.r) return;
    this.setAgg.run(d, r, conv);
    const rows = this.senders.all(conv, before.d, d, conv, before.r, r) as { sender: string }[];
    for (const { sender } of rows) {
      log.event(sender as UserId, { k: 'receipt', conv, delivered: d, read: r }, conv);
    }
  }
}
