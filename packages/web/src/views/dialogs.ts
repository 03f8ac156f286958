/**
 * Modal dialogs on the native <dialog> element (focus is kept inside, Escape closes): new chat,
 * new group, group info, message info.
 */
import type { Conversation, ConversationId, UserId } from '@parley/client';
import { coalesce, h, replace } from '../dom.ts';
import { lastSeen } from '../format.ts';
import type { ChatStore } from '../store.ts';
import { avatar, icon } from './common.ts';

const ERRORS: Record<string, string> = {
  NOT_FOUND: 'No user with that handle.',
  NOT_ADMIN: 'Only a group admin may do this.',
  NOT_MEMBER: 'You are not a member of this conversation.',
  GROUP_FULL: 'The group is full.',
  INVALID: 'That does not look right.',
  FORBIDDEN: 'Not allowed.',
};

function explain(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code && ERRORS[code]) return ERRORS[code];
  if (code === 'TIMEOUT' || (err as Error).name === 'TimeoutError') return 'No answer from the server; try again.';
  return (err as Error).message || 'Something went wrong.';
}

export interface Dialog {
  el: HTMLDialogElement;
  close(): void;
}

export function openDialog(title: string, testid: string, body: (Node | null)[], onClose?: () => void): Dialog {
  const id = `dlg-${Math.random().toString(36).slice(2, 8)}`;
  const el = h(
    'dialog',
    { class: 'dialog', 'data-testid': testid, 'aria-labelledby': id },
    h('header', null, h('h2', { id }, title), h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', 'data-testid': 'dialog-close', onclick: () => el.close() }, icon('close'))),
    ...body,
  );
  el.addEventListener('close', () => {
    el.remove();
    onClose?.();
  });
  // A click on the backdrop (outside the box) closes.
  el.addEventListener('click', (e) => {
    if (e.target === el) el.close();
  });
  document.body.appendChild(el);
  el.showModal();
  return { el, close: () => el.close() };
}

function field(id: string, label: string, input: HTMLInputElement): HTMLElement {
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** Start (or open) the direct conversation with a handle. */
export function newChatDialog(store: ChatStore, opened: (conv: ConversationId) => void): Dialog {
  const handle = h('input', { 'data-testid': 'new-chat-handle', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', required: true, placeholder: 'their handle' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'dialog-error' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-chat-submit' }, 'Start chat');
  const form = h('form', { class: 'dialog-form' }, field('new-chat-handle', 'Handle', handle), error, h('div', { class: 'actions' }, submit));
  const d = openDialog('New chat', 'new-chat-dialog', [form]);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = handle.value.trim().replace(/^@/, '');
    if (!v) return;
    if (v === store.me.handle) {
      error.textContent = 'That is you. Pick someone else.';
      return;
    }
    submit.disabled = true;
    store.client.direct(v).then(
      (c) => {
        store.adopt(c);
        d.close();
        opened(c.id);
      },
      (err: unknown) => {
        submit.disabled = false;
        error.textContent = explain(err);
      },
    );
  });
  handle.focus();
  return d;
}

/** Handles typed as "bob, carol dave" -> ["bob", "carol", "dave"]. */
function handlesOf(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).map((s) => s.trim().replace(/^@/, '')).filter(Boolean))];
}

async function resolveHandles(store: ChatStore, handles: string[]): Promise<UserId[]> {
  const out: UserId[] = [];
  for (const handle of handles) {
    try {
      out.push((await store.client.findUser(handle)).user);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new Error(code === 'NOT_FOUND' ? `No user with the handle “${handle}”.` : explain(err));
    }
  }
  return out;
}

export function newGroupDialog(store: ChatStore, opened: (conv: ConversationId) => void): Dialog {
  const name = h('input', { 'data-testid': 'new-group-name', required: true, maxlength: 128, autocomplete: 'off', placeholder: 'e.g. Weekend trip' });
  const members = h('input', { 'data-testid': 'new-group-members', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', placeholder: 'bob, carol', 'aria-describedby': 'new-group-hint' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'dialog-error' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-group-submit' }, 'Create group');
  const form = h(
    'form',
    { class: 'dialog-form' },
    field('new-group-name', 'Group name', name),
    field('new-group-members', 'Members', members),
    h('p', { class: 'hint', id: 'new-group-hint' }, 'Handles, separated by commas or spaces.'),
    error,
    h('div', { class: 'actions' }, submit),
  );
  const d = openDialog('New group', 'new-group-dialog', [form]);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!n) {
      error.textContent = 'Give the group a name.';
      return;
    }
    const list = handlesOf(members.value).filter((x) => x !== store.me.handle);
    submit.disabled = true;
    resolveHandles(store, list)
      .then((ids) => store.client.group(n, ids))
      .then(
        (c) => {
          store.adopt(c);
          d.close();
          opened(c.id);
        },
        (err: unknown) => {
          submit.disabled = false;
          error.textContent = err instanceof Error && !(err as { code?: string }).code ? err.message : explain(err);
        },
      );
  });
  name.focus();
  return d;
}

/** Members, admins, add/remove, rename, leave. Live: re-rendered when the group changes. */
export function groupInfoDialog(store: ChatStore, convId: ConversationId, left: () => void): Dialog {
  const content = h('div', { class: 'group-info' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'dialog-error' });
  let leaveArmed = false;
  const run = (op: Promise<unknown>) => {
    error.textContent = '';
    op.then(
      (r) => {
        const c = r as Conversation | undefined;
        if (c && typeof c === 'object' && Array.isArray(c.members)) store.adopt(c);
        else void store.refreshConv(convId);
      },
      (err: unknown) => (error.textContent = explain(err)),
    );
  };

  const render = () => {
    const c: Conversation | undefined = store.convs.get(convId);
    if (!c) {
      replace(content, h('p', null, 'You are no longer in this group.'));
      return;
    }
    const me = store.myMember(c);
    const admin = me?.admin ?? false;
    const rows = [...c.members]
      .sort((a, b) => Number(b.admin) - Number(a.admin) || a.handle.localeCompare(b.handle))
      .map((m) => {
        const isMe = m.user === store.me.user;
        const p = store.presence.get(m.user);
        const presence = isMe ? 'you' : p && store.conn === 'connected' ? (p.online ? 'online' : lastSeen(p.lastSeen)) : '';
        return h(
          'li',
          { class: 'member', 'data-testid': 'member', 'data-handle': m.handle, 'data-admin': String(m.admin) },
          avatar(m.handle, isMe ? undefined : (p?.online ?? false)),
          h('span', { class: 'member-main' }, h('span', { class: 'member-name' }, isMe ? `${m.handle} (you)` : m.handle), h('span', { class: 'member-status' }, presence)),
          m.admin ? h('span', { class: 'admin-badge', 'data-testid': 'admin-badge' }, 'admin') : null,
          admin && !isMe
            ? h(
                'span',
                { class: 'member-actions' },
                h(
                  'button',
                  { type: 'button', class: 'small', 'data-testid': 'toggle-admin', 'aria-label': m.admin ? `Dismiss ${m.handle} as admin` : `Make ${m.handle} an admin`, onclick: () => run(store.client.setAdmin(convId, m.user, !m.admin)) },
                  m.admin ? 'Dismiss admin' : 'Make admin',
                ),
                h('button', { type: 'button', class: 'small danger', 'data-testid': 'remove-member', 'aria-label': `Remove ${m.handle}`, onclick: () => run(store.client.removeMember(convId, m.user)) }, 'Remove'),
              )
            : null,
        );
      });

    const parts: (Node | null)[] = [h('h3', { 'data-testid': 'group-name' }, c.name), h('p', { class: 'hint' }, `${c.members.length} members`), h('ul', { class: 'members', 'data-testid': 'members', 'aria-label': 'Members' }, rows)];
    if (admin) {
      const add = h('input', { id: 'add-member', 'data-testid': 'add-member-input', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', placeholder: 'handle' });
      const addForm = h('form', { class: 'inline-form' }, h('label', { for: 'add-member' }, 'Add member'), add, h('button', { type: 'submit', 'data-testid': 'add-member-submit' }, 'Add'));
      addForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const hs = handlesOf(add.value);
        if (hs.length === 0) return;
        run(resolveHandles(store, hs).then((ids) => store.client.addMembers(convId, ids)));
      });
      const rename = h('input', { id: 'rename-group', 'data-testid': 'rename-input', value: c.name, maxlength: 128 });
      const renameForm = h('form', { class: 'inline-form' }, h('label', { for: 'rename-group' }, 'Name'), rename, h('button', { type: 'submit', 'data-testid': 'rename-submit' }, 'Rename'));
      renameForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const n = rename.value.trim();
        if (n && n !== c.name) run(store.client.rename(convId, n));
      });
      parts.push(addForm, renameForm);
    }
    const leave = h('button', { type: 'button', class: 'danger wide', 'data-testid': 'leave-group' }, leaveArmed ? 'Press again to leave the group' : 'Leave group');
    leave.addEventListener('click', () => {
      if (!leaveArmed) {
        leaveArmed = true;
        render();
        content.querySelector<HTMLElement>('[data-testid="leave-group"]')?.focus();
        return;
      }
      store.client.leave(convId).then(
        () => {
          store.convs.delete(convId);
          d.close();
          left();
        },
        (err: unknown) => (error.textContent = explain(err)),
      );
    });
    parts.push(leave);
    replace(content, parts);
  };

  const d = openDialog('Group info', 'group-info', [content, error], () => off());
  const soon = coalesce(render);
  const off = store.subscribe((t) => {
    if (t === `conv:${convId}` || t === 'presence' || t === 'convs') soon();
  });
  render();
  return d;
}

/** Who has a message of mine, and who has read it. Refreshed while open. */
export function messageInfoDialog(store: ChatStore, convId: ConversationId, seq: number): Dialog {
  const content = h('div', { class: 'msg-info-content', 'data-testid': 'message-info-content', 'aria-live': 'polite' }, h('p', null, 'Loading…'));
  const body = store.messages(convId).find((m) => m.seq === seq)?.body ?? '';
  const section = (title: string, testid: string, names: string[]) =>
    h('section', { class: 'info-section' }, h('h3', null, title), names.length ? h('ul', { 'data-testid': testid }, names.map((n) => h('li', { 'data-testid': 'info-member' }, n))) : h('p', { class: 'hint', 'data-testid': `${testid}-none` }, 'Nobody yet'));
  let stopped = false;
  const load = async () => {
    try {
      const info = await store.messageInfo(convId, seq);
      const others = info.members.filter((m) => m.user !== store.me.user);
      replace(
        content,
        section('Read by', 'info-read', others.filter((m) => m.read).map((m) => m.handle)),
        section('Delivered to', 'info-delivered', others.filter((m) => m.delivered && !m.read).map((m) => m.handle)),
        section('Not delivered yet', 'info-waiting', others.filter((m) => !m.delivered).map((m) => m.handle)),
      );
    } catch (err) {
      replace(content, h('p', { class: 'form-error', role: 'alert' }, explain(err)));
    }
  };
  const d = openDialog('Message info', 'message-info', [h('blockquote', { class: 'quoted' }, body), content], () => {
    stopped = true;
    clearInterval(timer);
    off();
  });
  const timer = setInterval(() => {
    if (!stopped) void load();
  }, 2000);
  const off = store.subscribe((t) => {
    if (t === `msgs:${convId}`) void load();
  });
  void load();
  return d;
}
