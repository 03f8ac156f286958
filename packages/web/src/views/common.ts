/** Small pieces shared by the views: avatars, ticks, presence text. */
import type { Conversation, Tick } from '@parley/client';
import { h } from '../dom.ts';
import { lastSeen } from '../format.ts';
import type { ChatStore } from '../store.ts';

const COLORS = ['#0b7a5b', '#2e6fd8', '#b5472b', '#7a3fb5', '#a06b00', '#1d7f95', '#b03a78', '#4f6b1d'];

function hue(text: string): string {
  let n = 0;
  for (let i = 0; i < text.length; i++) n = (n * 31 + text.charCodeAt(i)) >>> 0;
  return COLORS[n % COLORS.length] ?? '#0b7a5b';
}

export function avatar(name: string, online?: boolean): HTMLElement {
  const initials = name
    .split(/[\s._-]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((p) => p[0]?.toUpperCase() ?? '')
    .join('');
  return h(
    'span',
    { class: 'avatar', style: `background:${hue(name)}`, 'aria-hidden': 'true' },
    initials || '?',
    online === undefined ? null : h('span', { class: `dot${online ? ' online' : ''}`, 'data-testid': 'presence-dot', 'data-online': String(online) }),
  );
}

const TICK_LABEL: Record<Tick, string> = { pending: 'Pending', sent: 'Sent', delivered: 'Delivered', read: 'Read' };

/** One tick sent, two delivered, two coloured read, a clock while pending. */
export function tick(state: Tick): HTMLElement {
  const svg =
    state === 'pending'
      ? '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><circle cx="8" cy="8" r="6.2" fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M8 4.5V8l2.3 1.6" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"/></svg>'
      : state === 'sent'
        ? '<svg viewBox="0 0 16 16" width="16" height="14" aria-hidden="true"><path d="M2.5 8.5l3 3 7-7" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"/></svg>'
        : '<svg viewBox="0 0 20 16" width="19" height="14" aria-hidden="true"><path d="M1.5 8.5l3 3 7-7M8.5 11.5l7-7" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round"/><path d="M7 9.9l1.5 1.6" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round"/></svg>';
  const el = h('span', { class: `tick tick-${state}`, 'data-testid': 'tick', 'data-tick': state, role: 'img', 'aria-label': TICK_LABEL[state], title: TICK_LABEL[state] });
  el.innerHTML = svg;
  return el;
}

/** "online", "last seen …", or the member list of a group. */
export function statusLine(store: ChatStore, c: Conversation): string {
  const peer = store.peer(c);
  if (peer) {
    // Presence seen before the link dropped may be stale: say what we know.
    if (store.conn !== 'connected') return 'waiting for network…';
    const p = store.presence.get(peer.user);
    if (!p) return '';
    return p.online ? 'online' : lastSeen(p.lastSeen);
  }
  const names = c.members.map((m) => (m.user === store.me.user ? 'You' : m.handle));
  return names.join(', ');
}

/** "typing…" in a direct chat, "bob is typing…" / "bob and carol are typing…" in a group. */
export function typingLine(store: ChatStore, c: Conversation): string | null {
  const users = store.typingIn(c.id);
  if (users.length === 0) return null;
  if (c.kind === 'direct') return 'typing…';
  const names = users.map((u) => store.handleOf(u));
  if (names.length === 1) return `${names[0]} is typing…`;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are typing…`;
}

export function isOnline(store: ChatStore, c: Conversation): boolean | undefined {
  const peer = store.peer(c);
  if (!peer) return undefined;
  return store.conn === 'connected' && (store.presence.get(peer.user)?.online ?? false);
}

const ICONS = {
  compose: '<path d="M4 20h4L19 9l-4-4L4 16v4z M14 6l4 4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>',
  group: '<circle cx="9" cy="8" r="3.2" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M3 19c0-3.3 2.7-5.5 6-5.5s6 2.2 6 5.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><path d="M16 5.2a3 3 0 010 5.6M18 13.8c1.8.7 3 2.6 3 5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>',
  logout: '<path d="M10 4H5v16h5M15 8l4 4-4 4M19 12H9" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
  back: '<path d="M19 12H5M11 6l-6 6 6 6" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>',
  info: '<circle cx="12" cy="12" r="8.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M12 11v5.5M12 7.6v.1" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  send: '<path d="M4 12l16-8-6 16-2.5-6.5z" fill="currentColor"/>',
  close: '<path d="M6 6l12 12M18 6L6 18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  phone: '<path d="M6.6 3.5l2.6 3.2-1.6 2.4a11 11 0 007.3 7.3l2.4-1.6 3.2 2.6-1.4 3.1c-.3.6-1 .9-1.6.8C9.6 20.2 3.8 14.4 2.9 6.5c-.1-.7.2-1.3.8-1.6z" fill="currentColor"/>',
  hangup: '<path d="M2.5 14.6c5.5-5 13.5-5 19 0l-1.8 2.9-3.6-1.1-.4-2.6a11 11 0 00-7.4 0l-.4 2.6-3.6 1.1z" fill="currentColor"/>',
  mic: '<rect x="9" y="3" width="6" height="11" rx="3" fill="currentColor"/><path d="M5.5 11a6.5 6.5 0 0013 0M12 17.5V21" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>',
  'mic-off': '<rect x="9" y="3" width="6" height="11" rx="3" fill="currentColor"/><path d="M5.5 11a6.5 6.5 0 0013 0M12 17.5V21M4 4l16 16" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>',
  camera: '<rect x="3" y="6.5" width="12.5" height="11" rx="2" fill="currentColor"/><path d="M16.5 10.5l4.5-2.8v8.6l-4.5-2.8z" fill="currentColor"/>',
  'camera-off': '<rect x="3" y="6.5" width="12.5" height="11" rx="2" fill="currentColor"/><path d="M16.5 10.5l4.5-2.8v8.6l-4.5-2.8z" fill="currentColor"/><path d="M3 3l18 18" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>',
  screen: '<rect x="2.5" y="4" width="19" height="12.5" rx="1.8" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M8 20.5h8M12 16.5v4M12 13V7.5M9.5 10l2.5-2.5 2.5 2.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
} as const;

/** An inline SVG icon (no icon font: it renders the same everywhere, also without emoji fonts). */
export type IconName = keyof typeof ICONS;

export function icon(name: IconName, size = 20): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.innerHTML = ICONS[name];
  return svg;
}
