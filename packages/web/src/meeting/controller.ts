/**
 * At most one meeting on screen: opened by the route `#/m/<room>` (a conversation id or a meeting
 * link, with the device check first), by the call button of a chat, or by accepting a call (both
 * straight in). Leaving goes back to the conversation; navigating away from `#/m/…` leaves.
 */
import type { CallFrame, ConversationId } from '@parley/client';
import { announce } from '../dom.ts';
import type { ChatStore } from '../store.ts';
import { CallManager, type CallInfo } from './calls.ts';
import { joinErrorText, meetingScreen, type MeetingScreen } from './view.ts';

export const MEETING_ROUTE = /^#\/m\/([^/?#]+)/;

export class MeetingController {
  readonly calls: CallManager;
  private screen: MeetingScreen | null = null;

  constructor(
    private readonly store: ChatStore,
    /** Where the meeting layer goes (over the chat). */
    private readonly host: HTMLElement,
  ) {
    this.calls = new CallManager(store, {
      join: (call) => this.open(call.room, call, false),
      ended: (f) => this.callEnded(f),
    });
  }

  get active(): boolean {
    return this.screen !== null;
  }

  /** The hash changed: open the meeting it names, or leave the one on screen. */
  route(hash: string): boolean {
    const m = MEETING_ROUTE.exec(hash);
    if (!m?.[1]) {
      this.screen?.leave();
      return false;
    }
    const target = decodeURIComponent(m[1]);
    if (this.screen?.target !== target) this.open(target, null, true);
    return true;
  }

  /** The call button of a chat. */
  async call(conv: ConversationId): Promise<void> {
    try {
      const info = await this.calls.start(conv);
      this.open(info.room, info, false);
    } catch (err) {
      announce(joinErrorText(err));
    }
  }

  private open(target: string, call: CallInfo | null, prejoin: boolean): void {
    if (this.screen) {
      const old = this.screen;
      this.screen = null;
      this.hangUp(old);
      old.leave();
    }
    const conv = this.store.convs.get(target as ConversationId);
    const title = conv ? (conv.kind === 'direct' ? `Call with ${conv.name}` : conv.name) : 'Meeting';
    const screen = meetingScreen(
      this.store,
      { target, title, call, prejoin },
      {
        left: (s) => this.left(s),
        ringing: (c) => {
          const f = this.calls.current.get(c.conv);
          return f?.call === c.id && f.state === 'ringing';
        },
      },
    );
    this.screen = screen;
    this.host.appendChild(screen.el);
    const hash = `#/m/${encodeURIComponent(target)}`;
    if (location.hash !== hash) location.hash = hash;
  }

  private hangUp(s: MeetingScreen): void {
    if (s.call) this.calls.hangUp(s.call);
  }

  /** The screen closed (leave button, error acknowledged, call over). */
  private left(s: MeetingScreen): void {
    if (this.screen !== s) return;
    this.screen = null;
    this.hangUp(s);
    if (MEETING_ROUTE.test(location.hash)) {
      const back = s.call?.conv ?? (this.store.convs.has(s.target as ConversationId) ? s.target : null);
      location.hash = back ? `#/c/${encodeURIComponent(back)}` : '#/';
    }
  }

  private callEnded(f: CallFrame): void {
    const s = this.screen;
    if (!s?.call || s.call.id !== f.call) return;
    // A direct call ends for both sides; a group call only when nobody answered the caller.
    if (!s.call.direct && f.state !== 'missed') return;
    const who = f.by ? this.store.handleOf(f.by) : null;
    const message = f.state === 'declined' ? `${who ?? 'They'} declined the call` : f.state === 'missed' ? 'No answer' : 'Call ended';
    s.endCall(message);
  }

  dispose(): void {
    this.calls.dispose();
    const s = this.screen;
    this.screen = null;
    if (s) {
      this.hangUp(s);
      s.leave();
    }
  }
}
