/**
 * Calls from chat, the browser side: `call.start` from the chat header, the ringing screen on the
 * callee's devices (from `call` frames), accept / decline, and the text of the `kind: 'call'`
 * messages a call leaves in its conversation ("Missed call", "Call, 12 min").
 */
import type { CallFrame, CallMessageBody, ConversationId, Message } from '@parley/client';
import { announce, h } from '../dom.ts';
import type { ChatStore } from '../store.ts';
import { avatar, icon } from '../views/common.ts';

/** What a meeting needs to know about the call it belongs to. */
export interface CallInfo {
  id: string;
  conv: ConversationId;
  room: string;
  /** A direct conversation: either side hanging up ends the call for both. */
  direct: boolean;
  /** I started it. */
  caller: boolean;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "Missed call", "Call declined", "Call, 12 min": the text of a call message. */
export function callText(body: string): string {
  let b: CallMessageBody | null = null;
  try {
    b = JSON.parse(body) as CallMessageBody;
  } catch {
    // not JSON: say what it is anyway
  }
  switch (b?.state) {
    case 'missed':
      return 'Missed call';
    case 'declined':
      return 'Call declined';
    case 'ended':
      return `Call, ${formatDuration(b.durationMs)}`;
    default:
      return 'Call';
  }
}

export function isCall(m: Pick<Message, 'kind'>): boolean {
  return m.kind === 'call';
}

export interface CallHandlers {
  /** Open the meeting of a call (I started or accepted it). */
  join(call: CallInfo): void;
  /** A call ended (any way): a meeting of a direct call closes. */
  ended(frame: CallFrame): void;
}

/**
 * Follows the `call` frames of this device: rings on `ringing` from someone else, stops on any
 * other state of that call (`accepted` or `declined` by me means another device of mine answered).
 */
export class CallManager {
  /** The calls in progress, by conversation (the latest frame of each). */
  readonly current = new Map<ConversationId, CallFrame>();
  private ring: { frame: CallFrame; dialog: HTMLDialogElement } | null = null;
  /** Calls seen ending (so that leaving their meeting does not end them again). */
  private readonly over = new Set<string>();
  private readonly off: () => void;

  constructor(
    private readonly store: ChatStore,
    private readonly handlers: CallHandlers,
  ) {
    this.off = store.client.on('frame', (f) => {
      if (f.t === 'call') this.onCall(f);
    });
  }

  private onCall(f: CallFrame): void {
    const me = this.store.me.user;
    // In a group, `declined` usually means one member declined and the call rings on (the wire
    // does not say when the last one did; the call message tells).
    const final = f.state === 'ended' || f.state === 'missed' || (f.state === 'declined' && this.isDirect(f.conv));
    if (final) {
      this.over.add(f.call);
      if (this.current.get(f.conv)?.call === f.call) this.current.delete(f.conv);
    } else if (f.state !== 'declined') {
      this.current.set(f.conv, f);
    }
    this.store.notify(`conv:${f.conv}`);

    const ringingThis = this.ring?.frame.call === f.call;
    if (f.state === 'ringing' && f.from !== me) {
      if (!this.ring) this.showRing(f);
    } else if (final) {
      if (ringingThis) this.stopRing(f.state === 'missed' ? `Missed call from ${this.store.handleOf(f.from)}` : null);
      this.handlers.ended(f);
    } else if (ringingThis && f.by === me) {
      this.stopRing(null); // answered or declined on another device of mine
    }
  }

  private isDirect(conv: ConversationId): boolean {
    return this.store.convs.get(conv)?.kind === 'direct';
  }

  private name(f: CallFrame): string {
    const c = this.store.convs.get(f.conv);
    const who = this.store.handleOf(f.from);
    return c?.kind === 'group' ? `${who} in ${c.name}` : who;
  }

  private showRing(f: CallFrame): void {
    let title = `${this.name(f)} is calling`;
    const accept = h('button', { type: 'button', class: 'call-accept', 'data-testid': 'call-accept', 'aria-label': 'Accept call', onclick: () => void this.accept(f) }, icon('phone'), 'Accept');
    const decline = h('button', { type: 'button', class: 'call-decline', 'data-testid': 'call-decline', 'aria-label': 'Decline call', onclick: () => void this.decline(f) }, icon('hangup'), 'Decline');
    const heading = h('h2', { id: 'ring-title' }, title);
    if (!this.store.convs.has(f.conv)) {
      // A conversation this page has not loaded yet (e.g. just created by the caller): name it when known.
      void this.store.refreshConv(f.conv).then(() => {
        title = `${this.name(f)} is calling`;
        heading.textContent = title;
      });
    }
    const dialog = h(
      'dialog',
      { class: 'ring', 'data-testid': 'incoming-call', 'data-call': f.call, 'aria-labelledby': 'ring-title', role: 'alertdialog' },
      h('div', { class: 'ring-avatar' }, avatar(this.store.handleOf(f.from))),
      heading,
      h('p', { class: 'ring-sub' }, 'Incoming call…'),
      h('div', { class: 'ring-actions' }, decline, accept),
    );
    // Escape declines, like the decline button.
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      void this.decline(f);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    accept.focus();
    this.ring = { frame: f, dialog };
    announce(title);
  }

  private stopRing(say: string | null): void {
    const r = this.ring;
    if (!r) return;
    this.ring = null;
    r.dialog.close();
    r.dialog.remove();
    if (say) announce(say);
  }

  private async accept(f: CallFrame): Promise<void> {
    this.stopRing(null);
    try {
      const res = await this.store.client.request({ t: 'call.accept', call: f.call });
      this.handlers.join({ id: f.call, conv: f.conv, room: res.room, direct: this.isDirect(f.conv), caller: false });
    } catch {
      announce('The call has ended.');
    }
  }

  private async decline(f: CallFrame): Promise<void> {
    this.stopRing(null);
    await this.store.client.request({ t: 'call.decline', call: f.call }).catch(() => {});
  }

  /**
   * The call button of a chat: join the call in progress in this conversation (accepting it when
   * someone else rings), or start one.
   */
  async start(conv: ConversationId): Promise<CallInfo> {
    const running = this.current.get(conv);
    const direct = this.isDirect(conv);
    if (running && running.from !== this.store.me.user) {
      if (this.ring?.frame.call === running.call) this.stopRing(null);
      try {
        const res = await this.store.client.request({ t: 'call.accept', call: running.call });
        return { id: running.call, conv, room: res.room, direct, caller: false };
      } catch {
        this.current.delete(conv); // it ended meanwhile: start a new one
      }
    }
    const res = await this.store.client.request({ t: 'call.start', conv });
    // An already accepted call started by someone else: I only join it.
    const joinedOnly = res.state === 'accepted' && this.current.get(conv)?.call === res.call && this.current.get(conv)?.from !== this.store.me.user;
    return { id: res.call, conv, room: res.room, direct, caller: !joinedOnly };
  }

  /**
   * I leave a call's meeting: a direct call ends for both; in a group the caller leaving a call
   * nobody answered cancels it, otherwise the call goes on until its room empties.
   */
  hangUp(call: CallInfo): void {
    if (this.over.has(call.id)) return;
    const f = this.current.get(call.conv);
    const answered = f?.call === call.id && f.state === 'accepted';
    if (call.direct || (call.caller && !answered)) void this.store.client.request({ t: 'call.end', call: call.id }).catch(() => {});
  }

  dispose(): void {
    this.off();
    this.stopRing(null);
  }
}
