/**
 * The meeting screen: the device check (unless a call skips it), then a grid of tiles (camera and
 * screen share of everyone, names, mute state, the active speaker highlighted) and the controls
 * (microphone, camera, screen share, leave). A full-window layer over the chat.
 *
 * Keyboard: every control is a button with a label and `aria-pressed`; M toggles the microphone
 * and V the camera while focus is not in a form field. For tests the live MeetingSession is
 * `window.__parleyMeeting` (its two RTCPeerConnections and the m-line map).
 */
import { ParleyError, type ConversationId, type TrackSource } from '@parley/client';
import { announce, coalesce, h, replace } from '../dom.ts';
import type { ChatStore } from '../store.ts';
import { avatar, icon, type IconName } from '../views/common.ts';
import type { CallInfo } from './calls.ts';
import { MeetingSession } from './MeetingSession.ts';
import { openMedia } from './media.ts';
import { prejoinView, type PrejoinChoice, type PrejoinView } from './prejoin.ts';

declare global {
  interface Window {
    __parleyMeeting?: MeetingSession;
  }
}

export interface MeetingScreenOptions {
  /** A conversation id or a meeting-link token. */
  target: string;
  title: string;
  call: CallInfo | null;
  /** Show the device check first (meetings); calls go straight in. */
  prejoin: boolean;
}

export interface MeetingScreen {
  el: HTMLElement;
  readonly target: string;
  readonly call: CallInfo | null;
  /** Leave (tells the server) and close the screen. */
  leave(): void;
  /** The call this meeting belongs to ended elsewhere: say why, then close. */
  endCall(message: string): void;
  dispose(): void;
}

const JOIN_ERRORS: Record<string, string> = {
  NOT_MEMBER: 'You are not a member of this conversation, so you cannot join its meeting.',
  NOT_FOUND: 'There is no such meeting (or the meeting link is not valid).',
  FORBIDDEN: 'You cannot join: the meeting link has expired, or the meeting is full.',
  INVALID: 'This connection cannot carry a meeting (it needs WebSocket or Server-Sent Events).',
};

export function joinErrorText(err: unknown): string {
  if (err instanceof ParleyError || (err as { code?: string })?.code) {
    const code = (err as { code: string }).code;
    if (JOIN_ERRORS[code]) return JOIN_ERRORS[code];
  }
  return `Could not join the meeting: ${(err as Error)?.message ?? String(err)}`;
}

interface Tile {
  li: HTMLLIElement;
  video: HTMLVideoElement;
  label: HTMLElement;
  micOff: HTMLElement;
  trackId: string | null;
}

export function meetingScreen(store: ChatStore, opts: MeetingScreenOptions, hooks: { left(screen: MeetingScreen): void; ringing(call: CallInfo): boolean }): MeetingScreen {
  let session: MeetingSession | null = null;
  let prejoin: PrejoinView | null = null;
  let finished = false;

  const status = h('span', { class: 'meeting-status', 'data-testid': 'meeting-status', 'aria-live': 'polite' });
  const title = h('h2', { class: 'meeting-title', 'data-testid': 'meeting-title' }, opts.title);
  // Shown while the session rejoins by itself (a failed media connection, a lost link): the tiles stay.
  const reconnecting = h('span', { class: 'meeting-reconnecting', 'data-testid': 'meeting-reconnecting', hidden: true }, 'Reconnecting…');
  const header = h('header', { class: 'meeting-header' }, title, reconnecting, status);
  const body = h('div', { class: 'meeting-body' });
  const grid = h('ul', { class: 'tiles', 'data-testid': 'tiles', 'aria-label': 'Participants' });
  const audios = h('div', { class: 'sr-only', 'aria-hidden': 'true' });

  const button = (testid: string, onclick: () => void, key?: string) =>
    h('button', { type: 'button', class: 'round', 'data-testid': testid, onclick, ...(key ? { 'aria-keyshortcuts': key } : {}) });
  const micButton = button('meeting-mic', () => void toggle('audio'), 'M');
  const camButton = button('meeting-camera', () => void toggle('video'), 'V');
  const screenButton = button('meeting-screen', () => void toggleScreen());
  const leaveButton = h('button', { type: 'button', class: 'round leave', 'data-testid': 'meeting-leave', onclick: () => screen.leave() });
  const controls = h('div', { class: 'meeting-controls', role: 'toolbar', 'aria-label': 'Meeting controls', hidden: true }, micButton, camButton, screenButton, leaveButton);
  const el = h('section', { class: 'meeting', 'data-testid': 'meeting', 'data-phase': 'prejoin', 'aria-label': `Meeting: ${opts.title}` }, header, body, controls, audios);
  if (!navigator.mediaDevices?.getDisplayMedia) screenButton.hidden = true;

  const setButton = (b: HTMLButtonElement, name: IconName, label: string, pressed: boolean | null, off = false) => {
    replace(b, icon(name, 22));
    b.setAttribute('aria-label', label);
    b.title = label + (b.getAttribute('aria-keyshortcuts') ? ` (${b.getAttribute('aria-keyshortcuts')})` : '');
    if (pressed === null) b.removeAttribute('aria-pressed');
    else b.setAttribute('aria-pressed', String(pressed));
    b.classList.toggle('off', off);
  };

  // --- phases ---

  /** `canRejoin`: the participation ended after a successful join (connection lost, pc failed). */
  const showError = (message: string, canRejoin = false) => {
    el.dataset['phase'] = 'error';
    delete el.dataset['connection'];
    reconnecting.hidden = true;
    controls.hidden = true;
    status.textContent = '';
    for (const t of tiles.values()) t.video.srcObject = null;
    tileSizes?.disconnect();
    tiles.clear();
    replace(grid);
    replace(audios);
    const back = h('button', { type: 'button', class: canRejoin ? 'secondary' : 'primary', 'data-testid': 'meeting-back', onclick: () => finish() }, 'Back to chat');
    const again = canRejoin ? h('button', { type: 'button', class: 'primary', 'data-testid': 'meeting-rejoin', onclick: () => rejoin() }, 'Join again') : null;
    replace(body, h('div', { class: 'meeting-error', 'data-testid': 'meeting-error', role: 'alert' }, h('p', null, message), h('div', { class: 'prejoin-actions' }, back, again)));
    (again ?? back).focus();
  };

  /** "Join again" after the automatic rejoin gave up: the same devices, a new participation (once the link is back). */
  const rejoin = () => {
    if (finished) return;
    el.dataset['phase'] = 'joining';
    replace(body);
    status.textContent = store.conn === 'connected' ? 'Joining…' : 'Waiting for the connection…';
    const go = () => void openMedia().then((o) => start({ stream: o.stream, audioMuted: false, videoMuted: false }));
    if (store.conn === 'connected') return go();
    offWait = store.subscribe((t) => {
      if (t !== 'conn' || store.conn !== 'connected') return;
      offWait();
      go();
    });
  };
  let offWait: () => void = () => {};

  const start = async (choice: PrejoinChoice) => {
    if (finished) {
      for (const t of choice.stream?.getTracks() ?? []) t.stop();
      return;
    }
    const s = new MeetingSession(store.client, opts.target, choice.stream, { audioMuted: choice.audioMuted, videoMuted: choice.videoMuted });
    session = s;
    window.__parleyMeeting = s;
    status.textContent = 'Joining…';
    s.events.on('change', () => renderSoon());
    s.events.on('speaker', () => renderSoon());
    // Each remote tile's size goes to the SFU, which picks the simulcast layer that fits it.
    tileSizes = new ResizeObserver((entries) => {
      for (const e of entries) {
        const track = (e.target as HTMLElement).dataset['track'];
        if (track) s.setTileSize(track, e.contentRect.width, e.contentRect.height);
      }
    });
    try {
      await s.join();
    } catch (err) {
      session = null;
      if (window.__parleyMeeting === s) delete window.__parleyMeeting;
      const message = joinErrorText(err);
      if (prejoin) prejoin.failed(message);
      else showError(message);
      return;
    }
    if (s.closed) return showError('The connection to the server was lost.', true);
    s.events.on('closed', ({ reason }) => {
      if (reason) showError(reason, true);
      else finish();
    });
    prejoin?.dispose();
    prejoin = null;
    el.dataset['phase'] = 'meeting';
    controls.hidden = false;
    replace(body, grid);
    render();
    micButton.focus();
  };

  if (opts.prejoin) {
    prejoin = prejoinView(opts.title, { join: (c) => void start(c), cancel: () => finish() });
    replace(body, prejoin.el);
  } else {
    el.dataset['phase'] = 'joining';
    status.textContent = 'Starting your camera…';
    void openMedia().then((o) => start({ stream: o.stream, audioMuted: false, videoMuted: false }));
  }

  // --- tiles ---

  const tiles = new Map<string, Tile>();
  let tileSizes: ResizeObserver | null = null;
  const newTile = (key: string): Tile => {
    const video = h('video', { autoplay: true, playsinline: true, muted: true });
    video.muted = true; // audio plays from the <audio> elements
    const label = h('span', { class: 'tile-name', 'data-testid': 'tile-name' });
    const micOff = h('span', { class: 'tile-mic-off', 'aria-hidden': 'true' }, icon('mic-off', 16));
    const li = h('li', { class: 'tile', 'data-testid': 'tile', 'data-key': key }, video, h('span', { class: 'tile-avatar' }), h('span', { class: 'tile-label' }, micOff, label));
    const t: Tile = { li, video, label, micOff, trackId: null };
    tiles.set(key, t);
    tileSizes?.observe(li);
    return t;
  };

  const setTrack = (t: Tile, track: MediaStreamTrack | null | undefined) => {
    const id = track ? track.id : null;
    if (id === t.trackId) return;
    t.trackId = id;
    t.video.srcObject = track ? new MediaStream([track]) : null;
  };

  const render = () => {
    const s = session;
    if (!s || s.closed || el.dataset['phase'] !== 'meeting') return;
    const want: { key: string; participant: string; name: string; source: TrackSource; track: MediaStreamTrack | null; videoOn: boolean; audioMuted: boolean; me: boolean; trackId?: string }[] = [];
    const myId = s.participantId ?? 'me';
    const myCam = s.media?.getVideoTracks()[0] ?? null;
    want.push({ key: `${myId}:camera`, participant: 'me', name: `${store.me.handle} (you)`, source: 'camera', track: myCam, videoOn: !!myCam && !s.muted.video, audioMuted: s.muted.audio || !s.media?.getAudioTracks().length, me: true });
    if (s.screen) want.push({ key: `${myId}:screen`, participant: 'me', name: 'Your screen', source: 'screen', track: s.screen, videoOn: true, audioMuted: false, me: true });
    const wantAudio = new Map<string, MediaStreamTrack>();
    for (const p of s.participants.values()) {
      const media = s.remoteMedia(p.id);
      const name = store.handleOf(p.user);
      const cam = s.trackOf(p.id, 'camera');
      const mic = s.trackOf(p.id, 'mic');
      want.push({ key: `${p.id}:camera`, participant: p.id, name, source: 'camera', track: media.camera ?? null, videoOn: !!media.camera && !!cam && !cam.muted, audioMuted: !mic || mic.muted, me: false, ...(cam ? { trackId: cam.id } : {}) });
      const screenInfo = s.trackOf(p.id, 'screen');
      if (screenInfo) want.push({ key: `${p.id}:screen`, participant: p.id, name: `${name}'s screen`, source: 'screen', track: media.screen ?? null, videoOn: !!media.screen, audioMuted: false, me: false, trackId: screenInfo.id });
      if (media.mic) wantAudio.set(p.id, media.mic);
    }

    const keys = new Set(want.map((w) => w.key));
    for (const [k, t] of tiles) {
      if (keys.has(k)) continue;
      t.video.srcObject = null;
      tileSizes?.unobserve(t.li);
      const gone = t.li.dataset['track'];
      if (gone && session && !session.closed) session.setTileSize(gone, 0, 0);
      t.li.remove();
      tiles.delete(k);
    }
    const order: HTMLLIElement[] = [];
    for (const w of want) {
      const t = tiles.get(w.key) ?? newTile(w.key);
      setTrack(t, w.track);
      const speaking = w.source === 'camera' && s.speaker === w.participant;
      const dominant = w.source === 'camera' && s.dominantSpeaker === w.participant;
      if (w.trackId && t.li.dataset['track'] !== w.trackId) {
        t.li.dataset['track'] = w.trackId;
        // Re-observe: the observer reports the size of a newly observed element at once.
        tileSizes?.unobserve(t.li);
        tileSizes?.observe(t.li);
      }
      t.li.dataset['dominant'] = String(dominant);
      t.li.classList.toggle('dominant', dominant);
      t.li.dataset['participant'] = w.participant;
      t.li.dataset['source'] = w.source;
      t.li.dataset['user'] = w.me ? store.me.handle : w.name;
      t.li.dataset['videoOn'] = String(w.videoOn);
      t.li.dataset['speaking'] = String(speaking);
      t.li.classList.toggle('me', w.me);
      t.li.classList.toggle('screen', w.source === 'screen');
      t.li.classList.toggle('video-off', !w.videoOn);
      t.li.classList.toggle('speaking', speaking);
      t.label.textContent = w.name;
      t.micOff.hidden = w.source === 'screen' || !w.audioMuted;
      t.li.setAttribute('aria-label', [w.name, w.source === 'camera' && w.audioMuted ? 'microphone off' : null, w.source === 'camera' && !w.videoOn ? 'camera off' : null, speaking ? 'speaking' : null].filter(Boolean).join(', '));
      const av = t.li.querySelector('.tile-avatar');
      if (av && av.getAttribute('data-name') !== w.name) {
        av.setAttribute('data-name', w.name);
        replace(av, avatar(w.me ? store.me.handle : w.name.replace(/'s screen$/, '')));
      }
      order.push(t.li);
    }
    // Re-append only when the order changed: moving a playing <video> pauses it.
    const current = Array.from(grid.children);
    if (current.length !== order.length || order.some((li, i) => current[i] !== li)) {
      for (const li of order) grid.appendChild(li);
    }
    for (const t of tiles.values()) if (t.video.srcObject && t.video.paused) void t.video.play().catch(() => {});
    grid.dataset['count'] = String(order.length);

    // One <audio> per remote microphone.
    for (const a of Array.from(audios.children) as HTMLAudioElement[]) {
      const p = a.dataset['participant'] ?? '';
      const track = wantAudio.get(p);
      const playing = (a.srcObject as MediaStream | null)?.getAudioTracks()[0];
      if (!track) a.remove();
      else if (playing !== track) a.srcObject = new MediaStream([track]);
      wantAudio.delete(p);
    }
    for (const [p, track] of wantAudio) {
      const a = h('audio', { autoplay: true, 'data-participant': p });
      a.srcObject = new MediaStream([track]);
      audios.appendChild(a);
      void a.play().catch(() => {});
    }

    // Controls and status.
    const hasMic = (s.media?.getAudioTracks().length ?? 0) > 0;
    const hasCam = (s.media?.getVideoTracks().length ?? 0) > 0;
    setButton(micButton, s.muted.audio || !hasMic ? 'mic-off' : 'mic', s.muted.audio ? 'Unmute microphone' : 'Mute microphone', s.muted.audio, s.muted.audio);
    micButton.disabled = !hasMic;
    setButton(camButton, s.muted.video || !hasCam ? 'camera-off' : 'camera', s.muted.video ? 'Turn camera on' : 'Turn camera off', s.muted.video, s.muted.video);
    camButton.disabled = !hasCam;
    setButton(screenButton, 'screen', s.screen ? 'Stop sharing your screen' : 'Share your screen', !!s.screen);
    setButton(leaveButton, 'hangup', opts.call ? 'Hang up' : 'Leave meeting', null);
    const others = s.participants.size;
    const connecting = [s.pub, s.sub].some((pc) => pc && (pc.connectionState === 'new' || pc.connectionState === 'connecting'));
    const rejoining = s.state === 'reconnecting';
    if (rejoining === reconnecting.hidden) announce(rejoining ? 'Connection lost. Reconnecting…' : 'Reconnected');
    el.dataset['connection'] = rejoining ? 'reconnecting' : 'ok';
    reconnecting.hidden = !rejoining;
    status.textContent = rejoining
      ? (s.reconnect?.attempt ?? 0) > 1
        ? `attempt ${s.reconnect?.attempt}…`
        : ''
      : others === 0 && opts.call?.caller && callRinging()
        ? 'Calling…'
        : others === 0
          ? 'Waiting for others to join…'
          : `${others + 1} in the meeting${connecting ? ' · connecting media…' : ''}`;
  };
  const renderSoon = coalesce(render, 50);
  // Names come from the conversation list, which may load after the meeting opened (a deep link).
  const offStore = store.subscribe((topic) => {
    if (topic !== 'convs') return;
    const c = store.convs.get((session?.room ?? opts.target) as ConversationId);
    if (c && !opts.call) title.textContent = c.name;
    renderSoon();
  });
  const callRinging = () => opts.call !== null && hooks.ringing(opts.call);

  // --- controls ---

  const toggle = async (kind: 'audio' | 'video') => {
    const s = session;
    if (!s || s.closed) return;
    const muted = !s.muted[kind];
    await s.setMuted(kind, muted);
    announce(kind === 'audio' ? (muted ? 'Microphone off' : 'Microphone on') : muted ? 'Camera off' : 'Camera on');
  };

  const toggleScreen = async () => {
    const s = session;
    if (!s || s.closed) return;
    try {
      if (s.screen) await s.stopScreenShare();
      else await s.startScreenShare();
      announce(s.screen ? 'You are sharing your screen' : 'Screen sharing stopped');
    } catch (err) {
      if ((err as Error)?.name !== 'NotAllowedError' && (err as Error)?.name !== 'AbortError') announce(`Screen sharing failed: ${(err as Error)?.message ?? err}`);
    }
  };

  const onKey = (e: KeyboardEvent) => {
    if (el.dataset['phase'] !== 'meeting' || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.closest('input, textarea, select, [contenteditable]') || t.closest('dialog'))) return;
    if (e.key === 'm' || e.key === 'M') {
      e.preventDefault();
      void toggle('audio');
    } else if (e.key === 'v' || e.key === 'V') {
      e.preventDefault();
      void toggle('video');
    }
  };
  document.addEventListener('keydown', onKey);

  // --- the end ---

  const finish = () => {
    if (finished) return;
    finished = true;
    screen.dispose();
    hooks.left(screen);
  };

  const screen: MeetingScreen = {
    el,
    target: opts.target,
    call: opts.call,
    leave: () => {
      session?.leave();
      finish();
    },
    endCall: (message) => {
      announce(message);
      session?.leave();
      finish();
    },
    dispose: () => {
      document.removeEventListener('keydown', onKey);
      tileSizes?.disconnect();
      tileSizes = null;
      offStore();
      offWait();
      prejoin?.dispose();
      prejoin = null;
      const s = session;
      session = null;
      s?.leave();
      if (s && window.__parleyMeeting === s) delete window.__parleyMeeting;
      for (const t of tiles.values()) t.video.srcObject = null;
      for (const a of Array.from(audios.children) as HTMLAudioElement[]) a.srcObject = null;
      el.remove();
    },
  };
  return screen;
}
