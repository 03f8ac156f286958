/**
 * Typing indications: ephemeral, never stored. A `typing on` lasts `ttlMs` unless refreshed; when it
 * lapses (or the sender's session ends) the members are told `off`. Refreshes are rate-limited per
 * (user, conversation): extra frames are dropped, not errors.
 */
import type { ConversationId, UserId } from '@parley/protocol';

export interface TypingSink {
  (conv: ConversationId, from: UserId, on: boolean): void;
}

export class Typing {
  private readonly active = new Map<string, { timer: NodeJS.Timeout; conv: ConversationId; user: UserId }>();
  private readonly lastSent = new Map<string, number[]>();

  constructor(
    private readonly ttlMs: number,
    private readonly perSecond: number,
    private readonly sink: TypingSink,
  ) {}

  private allowed(key: string): boolean {
    const now = Date.now();
    const recent = (this.lastSent.get(key) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= this.perSecond) return false;
    recent.push(now);
    this.lastSent.set(key, recent);
    return true;
  }

  set(conv: ConversationId, user: UserId, on: boolean): void {
    const key = `${user}\u0000${conv}`;
    const current = this.active.get(key);
    if (!on) {
      if (!current) return;
      clearTimeout(current.timer);
      this.active.delete(key);
      this.lastSent.delete(key);
      this.sink(conv, user, false);
      return;
    }
    if (!this.allowed(key)) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => this.set(conv, user, false), this.ttlMs);
    timer.unref();
    this.active.set(key, { timer, conv, user });
    this.sink(conv, user, true);
  }

  /** The user's last session here ended: stop whatever it was typing. */
  stopAll(user: UserId): void {
    for (const [, v] of [...this.active]) if (v.user === user) this.set(v.conv, user, false);
  }

  close(): void {
    for (const v of this.active.values()) clearTimeout(v.timer);
    this.active.clear();
    this.lastSent.clear();
  }
}
