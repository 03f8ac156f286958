/**
 * One conversation: header with presence or typing, the messages with day separators and ticks,
 * older history on scroll, and the composer (Enter sends, Shift+Enter is a new line).
 */
import type { CallFrame, Conversation, ConversationId, Message } from '@parley/client';
import { announce, coalesce, h, replace } from '../dom.ts';
import { clock, dayKey, dayLabel } from '../format.ts';
import type { ChatStore } from '../store.ts';
import { callText, isCall } from '../meeting/calls.ts';
import { avatar, icon, isOnline, statusLine, tick, typingLine } from './common.ts';

export interface ChatActions {
  back(): void;
  groupInfo(conv: ConversationId): void;
  messageInfo(conv: ConversationId, seq: number): void;
  /** Start a call in this conversation (or join the one in progress). */
  call(conv: ConversationId): void;
  callInProgress(conv: ConversationId): CallFrame | null;
}

/** Distance from the bottom under which the view counts as "at the bottom" and follows new messages. */
const STICK_PX = 48;
/** Distance from the top at which older history is fetched. */
const LOAD_PX = 120;

export function chatView(store: ChatStore, convId: ConversationId, actions: ChatActions): { el: HTMLElement; dispose(): void; focus(): void } {
  const conv = (): Conversation | undefined => store.convs.get(convId);

  const name = h('h2', { class: 'chat-name', 'data-testid': 'chat-name', id: `chat-name-${convId}` });
  const status = h('span', { class: 'chat-status', 'data-testid': 'chat-status' });
  const typing = h('span', { class: 'chat-typing', 'data-testid': 'chat-typing', hidden: true });
  const avatarSlot = h('span', { class: 'avatar-slot' });
  const infoButton = h('button', { type: 'button', class: 'icon', 'data-testid': 'group-info-button', 'aria-label': 'Group info', title: 'Group info', hidden: true, onclick: () => actions.groupInfo(convId) }, icon('info'));
  const callButton = h('button', { type: 'button', class: 'icon call', 'data-testid': 'call-button', onclick: () => actions.call(convId) }, icon('phone'));
  const header = h(
    'header',
    { class: 'chat-header' },
    h('button', { type: 'button', class: 'icon back', 'data-testid': 'back', 'aria-label': 'Back to conversations', onclick: () => actions.back() }, icon('back')),
    avatarSlot,
    h('div', { class: 'chat-title', 'aria-live': 'polite', 'aria-atomic': 'true' }, name, status, typing),
    callButton,
    infoButton,
  );

  const historyStatus = h('p', { class: 'history-status', 'data-testid': 'history-status', 'aria-live': 'polite' });
  const items = h('ol', { class: 'message-list', 'data-testid': 'message-list' });
  const log = h('div', { class: 'messages', 'data-testid': 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0' }, historyStatus, items);

  const input = h('textarea', { class: 'composer-input', 'data-testid': 'composer', 'aria-label': 'Message', placeholder: 'Type a message', rows: 1, maxlength: 65536, enterkeyhint: 'send' });
  const sendButton = h('button', { type: 'submit', class: 'send', 'data-testid': 'send', 'aria-label': 'Send', title: 'Send (Enter)' }, icon('send'));
  const form = h('form', { class: 'composer', 'aria-label': 'Write a message' }, input, sendButton);

  const el = h('section', { class: 'chat', 'data-testid': 'chat', 'data-conv': convId, 'aria-labelledby': `chat-name-${convId}` }, header, log, form);

  // --- header ---

  const renderHeader = () => {
    const c = conv();
    if (!c) return;
    name.textContent = c.name;
    el.dataset['kind'] = c.kind;
    replace(avatarSlot, avatar(c.name, isOnline(store, c)));
    const t = typingLine(store, c);
    typing.textContent = t ?? '';
    typing.hidden = t === null;
    status.textContent = statusLine(store, c);
    status.hidden = t !== null;
    infoButton.hidden = c.kind !== 'group';
    const running = actions.callInProgress(convId);
    const label = running ? 'Join the call' : c.kind === 'group' ? `Start a group call in ${c.name}` : `Call ${c.name}`;
    callButton.setAttribute('aria-label', label);
    callButton.title = label;
    callButton.classList.toggle('active', running !== null);
    callButton.dataset['call'] = running ? running.state : 'none';
  };

  // --- messages ---

  let prepending = false;
  let forceBottom = true;

  const messageItem = (c: Conversation, m: Message | null, pending: { body: string; cmid: string; ts: number; failed: boolean } | null): HTMLElement => {
    const mine = m ? m.from === store.me.user : true;
    const body = m ? m.body : (pending?.body ?? '');
    const ts = m ? m.ts : (pending?.ts ?? Date.now());
    const state = m ? (mine ? store.tick(m) : null) : pending?.failed ? null : 'pending';
    const showAuthor = c.kind === 'group' && !mine && m;
    if (m && isCall(m)) {
      const text = callText(m.body);
      return h(
        'li',
        { class: `msg call-entry ${mine ? 'mine' : 'theirs'}`, 'data-testid': 'message', 'data-kind': 'call', 'data-seq': m.seq, 'data-cmid': m.cmid, 'data-mine': String(mine) },
        h('span', { class: `call-icon${text === 'Missed call' ? ' missed' : ''}` }, icon('phone', 16)),
        h('div', { class: 'body', 'data-testid': 'message-body' }, text),
        h('span', { class: 'meta' }, h('time', { datetime: new Date(m.ts).toISOString() }, clock(m.ts))),
      );
    }
    const li = h(
      'li',
      {
        class: `msg ${mine ? 'mine' : 'theirs'}${pending?.failed ? ' failed' : ''}`,
        'data-testid': 'message',
        'data-seq': m ? m.seq : false,
        'data-cmid': m ? m.cmid : (pending?.cmid ?? ''),
        'data-mine': String(mine),
        'data-state': state ?? (pending?.failed ? 'failed' : false),
      },
      showAuthor ? h('span', { class: 'author', 'data-testid': 'message-author' }, store.handleOf(m.from)) : null,
      h('div', { class: 'body', 'data-testid': 'message-body' }, body),
      h(
        'span',
        { class: 'meta' },
        pending?.failed ? h('span', { class: 'failed-note', role: 'img', 'aria-label': 'Not sent' }, 'not sent') : null,
        h('time', { datetime: new Date(ts).toISOString() }, clock(ts)),
        state ? tick(state) : null,
      ),
      c.kind === 'group' && mine && m
        ? h('button', { type: 'button', class: 'msg-info', 'data-testid': 'message-info-button', 'aria-label': 'Message info', title: 'Message info', onclick: () => actions.messageInfo(convId, m.seq) }, icon('info', 15))
        : null,
    );
    return li;
  };

  const renderMessages = () => {
    const c = conv();
    if (!c) return;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
    const fromBottom = log.scrollHeight - log.scrollTop;

    const loaded = store.isLoaded(convId);
    const msgs = store.messages(convId);
    const pend = store.pending(convId);
    const out: HTMLElement[] = [];
    let lastDay = '';
    const separator = (ts: number) => {
      const k = dayKey(ts);
      if (k === lastDay) return;
      lastDay = k;
      out.push(h('li', { class: 'day', 'data-testid': 'day-separator', role: 'separator' }, h('span', null, dayLabel(ts))));
    };
    for (const m of msgs) {
      separator(m.ts);
      out.push(messageItem(c, m, null));
    }
    for (const p of pend) {
      separator(p.entry.createdAt);
      out.push(messageItem(c, null, { body: p.entry.body, cmid: p.entry.cmid, ts: p.entry.createdAt, failed: p.failed }));
    }
    replace(items, out);
    historyStatus.textContent = !loaded ? 'Loading messages…' : store.hasMore(convId) ? 'Scroll up for older messages' : msgs.length === 0 ? 'No messages yet. Say hello!' : 'Beginning of the conversation';
    el.dataset['loaded'] = String(loaded);

    if (forceBottom || atBottom) {
      log.scrollTop = log.scrollHeight;
    } else if (prepending) {
      log.scrollTop = log.scrollHeight - fromBottom;
    }
    if (loaded) forceBottom = false;
    prepending = false;
    // Not enough to scroll yet: fetch more at once.
    if (loaded && store.hasMore(convId) && log.scrollHeight <= log.clientHeight + LOAD_PX) void older();
  };

  const older = async () => {
    prepending = true;
    const got = await store.loadOlder(convId);
    if (!got) prepending = false;
  };

  log.addEventListener('scroll', () => {
    if (log.scrollTop < LOAD_PX && store.isLoaded(convId) && store.hasMore(convId)) void older();
  });

  // --- composer ---

  const send = () => {
    const text = input.value.replace(/\s+$/, '');
    if (text.trim().length === 0) return;
    input.value = '';
    autosize();
    forceBottom = true;
    store.send(convId, text);
    if (store.conn !== 'connected') announce('Offline: the message will be sent when the connection is back');
  };
  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
    input.focus();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      actions.back();
    }
  });
  input.addEventListener('input', () => {
    autosize();
    store.typing(convId, input.value);
  });

  // --- wiring ---

  const headerSoon = coalesce(renderHeader);
  const messagesSoon = coalesce(renderMessages);
  const off = store.subscribe((t) => {
    // `conn`: the outbox is loaded from storage before the first connection attempt.
    if (t === `msgs:${convId}` || t === 'conn') messagesSoon();
    if (t === 'typing' || t === 'presence' || t === 'convs' || t === 'conn' || t === `conv:${convId}`) headerSoon();
    if (t === 'convs' && !store.isLoaded(convId)) messagesSoon();
  });
  renderHeader();
  renderMessages();
  void store.open(convId);

  return {
    el,
    focus: () => input.focus(),
    dispose: () => {
      off();
      store.client.stopTyping(convId);
    },
  };
}
