/** The conversation list: most recently active first, with last message, unread count, presence. */
import type { Conversation, ConversationId } from '@parley/client';
import { coalesce, h, replace } from '../dom.ts';
import { listTime } from '../format.ts';
import type { ChatStore } from '../store.ts';
import { callText, isCall } from '../meeting/calls.ts';
import { avatar, icon, isOnline, tick, typingLine } from './common.ts';

export interface ListActions {
  open(conv: ConversationId): void;
  newChat(): void;
  newGroup(): void;
  logout(): void;
}

export function listView(store: ChatStore, actions: ListActions): { el: HTMLElement; dispose(): void } {
  const list = h('ul', { class: 'conv-list', 'data-testid': 'conv-list', 'aria-label': 'Conversations' });
  const empty = h('p', { class: 'empty', 'data-testid': 'conv-empty' }, 'No conversations yet. Start one with “New chat”.');
  const header = h(
    'header',
    { class: 'list-header' },
    avatar(store.me.handle),
    h('span', { class: 'me', 'data-testid': 'me' }, store.me.handle),
    h('span', { class: 'spacer' }),
    h('button', { type: 'button', class: 'icon', 'data-testid': 'new-chat', 'aria-label': 'New chat', title: 'New chat', onclick: () => actions.newChat() }, icon('compose')),
    h('button', { type: 'button', class: 'icon', 'data-testid': 'new-group', 'aria-label': 'New group', title: 'New group', onclick: () => actions.newGroup() }, icon('group')),
    h('button', { type: 'button', class: 'icon', 'data-testid': 'logout', 'aria-label': 'Log out', title: 'Log out', onclick: () => actions.logout() }, icon('logout')),
  );
  const el = h('nav', { class: 'list-pane', 'aria-label': 'Conversation list' }, header, list, empty);

  const row = (c: Conversation): HTMLElement => {
    const online = isOnline(store, c);
    const typing = typingLine(store, c);
    const last = c.lastMessage;
    const mine = last !== null && last.from === store.me.user;
    const lastBody = last === null ? '' : isCall(last) ? callText(last.body) : last.body;
    const lastText = last === null ? 'No messages yet' : c.kind === 'group' && !mine && !isCall(last) ? `${store.handleOf(last.from)}: ${lastBody}` : lastBody;
    const label = [
      c.kind === 'group' ? `Group ${c.name}` : `Chat with ${c.name}`,
      online === true ? 'online' : null,
      c.unread > 0 ? `${c.unread} unread` : null,
      typing ?? (last ? `last message: ${lastText}` : null),
    ]
      .filter(Boolean)
      .join(', ');
    return h(
      'li',
      null,
      h(
        'button',
        {
          type: 'button',
          class: `conv${store.openConv === c.id ? ' current' : ''}${c.unread > 0 ? ' has-unread' : ''}`,
          'data-testid': 'conv-item',
          'data-conv': c.id,
          'data-name': c.name,
          'data-kind': c.kind,
          'aria-label': label,
          'aria-current': store.openConv === c.id ? 'true' : false,
          onclick: () => actions.open(c.id),
        },
        avatar(c.name, online),
        h(
          'span',
          { class: 'conv-main' },
          h('span', { class: 'conv-top' }, h('span', { class: 'conv-name', 'data-testid': 'conv-name' }, c.name), h('span', { class: 'conv-time' }, last ? listTime(last.ts) : '')),
          h(
            'span',
            { class: 'conv-bottom' },
            typing
              ? h('span', { class: 'conv-last typing', 'data-testid': 'conv-typing' }, typing)
              : h('span', { class: 'conv-last', 'data-testid': 'conv-last' }, mine && last && !isCall(last) ? tick(store.tick(last)) : null, lastText),
            c.unread > 0 ? h('span', { class: 'badge', 'data-testid': 'unread-badge', 'aria-hidden': 'true' }, String(c.unread)) : null,
          ),
        ),
      ),
    );
  };

  const render = () => {
    const focused = document.activeElement instanceof HTMLElement && list.contains(document.activeElement) ? document.activeElement.getAttribute('data-conv') : null;
    const convs = store.sorted();
    replace(list, convs.map(row));
    empty.hidden = convs.length > 0 || !store.listLoaded;
    if (focused) list.querySelector<HTMLElement>(`[data-conv="${CSS.escape(focused)}"]`)?.focus();
  };
  // Arrow keys move between rows; Enter/Space open (they are buttons).
  list.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const rows = Array.from(list.querySelectorAll<HTMLElement>('[data-testid="conv-item"]'));
    const i = rows.indexOf(document.activeElement as HTMLElement);
    const next = rows[e.key === 'ArrowDown' ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1)];
    if (next) {
      e.preventDefault();
      next.focus();
    }
  });
  render();
  const schedule = coalesce(render);
  const off = store.subscribe((t) => {
    if (t === 'convs' || t === 'presence' || t === 'typing' || t === 'conn' || t.startsWith('msgs:')) schedule();
  });
  return { el, dispose: off };
}
