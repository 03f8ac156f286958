/**
 * The Parley web app's shell: signed out -> the login form; signed in -> the conversation list
 * beside the open chat (one pane at a time on narrow screens), an offline banner, and the dialogs.
 * The open conversation is in the URL hash (`#/c/<id>`), so reload, back and forward work.
 */
import type { ConversationId } from '@parley/client';
import { announce, h, replace } from './dom.ts';
import { Session } from './session.ts';
import { ChatStore } from './store.ts';
import { chatView } from './views/chat.ts';
import { groupInfoDialog, messageInfoDialog, newChatDialog, newGroupDialog } from './views/dialogs.ts';
import { MeetingController } from './meeting/controller.ts';
import { listView } from './views/list.ts';
import { loginView } from './views/login.ts';

const root = document.getElementById('app') as HTMLElement;
const session = new Session();

let teardown: (() => Promise<void>) | null = null;

async function boot(): Promise<void> {
  if (teardown) await teardown();
  teardown = null;
  const token = await session.access();
  const tokens = session.current;
  if (!token || !tokens) {
    document.title = 'Parley: log in';
    replace(root, loginView(session, () => void boot()));
    return;
  }
  signedIn();
}

function routeConv(): ConversationId | null {
  const m = /^#\/c\/([^/?#]+)/.exec(location.hash);
  return m?.[1] ? (decodeURIComponent(m[1]) as ConversationId) : null;
}

function signedIn(): void {
  const tokens = session.current;
  if (!tokens) return;
  let gone = false;
  const store = new ChatStore(session, tokens, () => {
    // The server refused every token we had: back to the login form.
    if (gone) return;
    session.clear();
    void boot();
  });

  const banner = h('div', { class: 'banner', 'data-testid': 'offline-banner', role: 'status', hidden: true });
  const chatPane = h('main', { class: 'chat-pane', 'aria-label': 'Chat' });
  const placeholder = h('div', { class: 'placeholder', 'data-testid': 'no-chat' }, h('p', null, 'Pick a conversation, or start a new one.'));
  const go = (conv: ConversationId | null) => {
    location.hash = conv ? `#/c/${encodeURIComponent(conv)}` : '#/';
  };
  const list = listView(store, {
    open: (c) => go(c),
    newChat: () => newChatDialog(store, (c) => go(c)),
    newGroup: () => newGroupDialog(store, (c) => go(c)),
    logout: () => {
      void (async () => {
        gone = true;
        const prefix = `parley:${tokens.user}:${tokens.device}:`;
        await teardown?.();
        teardown = null;
        await session.logout();
        for (const k of Object.keys(localStorage)) if (k.startsWith(prefix)) localStorage.removeItem(k);
        location.hash = '';
        void boot();
      })();
    },
  });
  const shell = h('div', { class: 'shell', 'data-pane': 'list' }, banner, h('div', { class: 'panes' }, list.el, chatPane));
  replace(root, shell);
  const meetings = new MeetingController(store, root);

  // --- the chat pane follows the hash ---
  let chat: ReturnType<typeof chatView> | null = null;
  let shown: ConversationId | null = null;
  let rendered = false;
  const showRoute = () => {
    // A meeting (`#/m/<room>`) is a layer over the chat, which stays as it was.
    if (meetings.route(location.hash)) return;
    const want = routeConv();
    const target = want !== null && store.convs.has(want) ? want : null;
    // An unknown conversation (left, or a stale link): back to the list once the list is known.
    if (want !== null && target === null && store.listLoaded) return go(null);
    if (rendered && target === shown) return;
    rendered = true;
    chat?.dispose();
    chat = null;
    shown = target;
    if (target) {
      chat = chatView(store, target, {
        back: () => go(null),
        groupInfo: (c) => groupInfoDialog(store, c, () => go(null)),
        messageInfo: (c, seq) => messageInfoDialog(store, c, seq),
        call: (c) => void meetings.call(c),
        callInProgress: (c) => meetings.calls.current.get(c) ?? null,
      });
      replace(chatPane, chat.el);
      shell.dataset['pane'] = 'chat';
      document.title = `${store.convs.get(target)?.name ?? 'Chat'} · Parley`;
      chat.focus();
    } else {
      void store.open(null);
      replace(chatPane, placeholder);
      shell.dataset['pane'] = 'list';
      document.title = 'Parley';
    }
  };
  window.addEventListener('hashchange', showRoute);
  const offRoute = store.subscribe((t) => {
    if (t === 'convs') showRoute();
  });
  showRoute();

  // --- offline banner ---
  let wasConnected = false;
  const renderBanner = () => {
    const s = store.conn;
    const up = s === 'connected';
    shell.dataset['conn'] = s;
    banner.hidden = up;
    if (!up) {
      const pending = store.client.pending().length;
      banner.textContent = !store.everConnected
        ? 'Connecting…'
        : `You are offline. Reconnecting…${pending > 0 ? ` ${pending} message${pending === 1 ? '' : 's'} will be sent when the connection is back.` : ''}`;
    }
    if (up && !wasConnected && store.everConnected) announce('Connected');
    wasConnected = up;
  };
  const offBanner = store.subscribe((t) => {
    if (t === 'conn' || t.startsWith('msgs:')) renderBanner();
  });
  renderBanner();

  teardown = async () => {
    gone = true;
    window.removeEventListener('hashchange', showRoute);
    offRoute();
    offBanner();
    meetings.dispose();
    chat?.dispose();
    list.dispose();
    for (const d of Array.from(document.querySelectorAll('dialog'))) d.remove();
    await store.close();
  };
}

void boot();
