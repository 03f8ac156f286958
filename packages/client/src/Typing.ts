/**
 * Typing indications with built-in throttling. Call `typing(conv)` on every keystroke: it sends
 * `on: true` at most once per `throttleMs` (the server expires an indication after ~5 s, so a
 * refresh every 2 s keeps it alive), and `on: false` once the calls stop for `idleMs`.
 * `stop(conv)` (e.g. when the message is sent) ends it at once.
 * The window is measured on the monotonic clock (`performance.now()` unless another is given): a
 * wall clock stepped back by NTP must not let two `on` frames through one window.
 */
import type { ConversationId } from '@parley/protocol';

export interface TypingOptions {
  /** Least time between two `on: true` frames for one conversation, ms. Default 2000. */
  throttleMs: number;
  /** Quiet time after the last call before `on: false` is sent, ms. Default 3000. */
  idleMs: number;
}

export const defaultTyping: TypingOptions = { throttleMs: 2000, idleMs: 3000 };

export class TypingThrottle {
  private readonly state = new Map<ConversationId, { lastSent: number; idle: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly opts: TypingOptions,
    private readonly send: (conv: ConversationId, on: boolean) => void,
    /** The monotonic clock, in ms (tests read the time the throttle saw through it). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  typing(conv: ConversationId): void {
    const now = this.now();
    const s = this.state.get(conv);
    if (s) clearTimeout(s.idle);
    const idle = setTimeout(() => this.stop(conv), this.opts.idleMs);
    if (!s || now - s.lastSent >= this.opts.throttleMs) {
      this.state.set(conv, { lastSent: now, idle });
      this.send(conv, true);
    } else {
      s.idle = idle;
    }
  }

  stop(conv: ConversationId): void {
    const s = this.state.get(conv);
    if (!s) return;
    clearTimeout(s.idle);
    this.state.delete(conv);
    this.send(conv, false);
  }

  close(): void {
    for (const s of this.state.values()) clearTimeout(s.idle);
    this.state.clear();
  }
}
