/**
 * The device check before joining: camera preview, microphone level meter, choice of camera and
 * microphone, join muted or with the camera off. Hands the opened stream to the meeting on Join
 * (and stops it on Cancel).
 */
import { h, replace } from '../dom.ts';
import { icon } from '../views/common.ts';
import { levelMeter, listDevices, openMedia, type Chosen } from './media.ts';

export interface PrejoinChoice {
  stream: MediaStream | null;
  audioMuted: boolean;
  videoMuted: boolean;
}

export interface PrejoinView {
  el: HTMLElement;
  /** Show an error under the Join button and let the user try again. */
  failed(message: string): void;
  dispose(): void;
}

export function prejoinView(title: string, actions: { join(choice: PrejoinChoice): void; cancel(): void }): PrejoinView {
  let stream: MediaStream | null = null;
  let handedOver = false;
  let stopMeter: () => void = () => {};
  let disposed = false;
  const chosen: Chosen = {};
  const state = { audioMuted: false, videoMuted: false };

  const video = h('video', { class: 'preview-video', 'data-testid': 'prejoin-preview', autoplay: true, playsinline: true, muted: true, 'aria-label': 'Your camera preview' });
  video.muted = true;
  const noCamera = h('div', { class: 'preview-off', hidden: true }, 'Camera off');
  const bar = h('span', { class: 'meter-bar' });
  const meter = h('div', { class: 'meter', role: 'meter', 'aria-label': 'Microphone level', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'data-testid': 'mic-meter' }, bar);
  const micSelect = h('select', { id: 'prejoin-mic', 'data-testid': 'prejoin-mic' });
  const camSelect = h('select', { id: 'prejoin-camera', 'data-testid': 'prejoin-camera' });
  const note = h('p', { class: 'prejoin-note', 'data-testid': 'prejoin-note', role: 'status' });
  const error = h('p', { class: 'form-error', 'data-testid': 'meeting-join-error', role: 'alert' });
  const micToggle = h('button', { type: 'button', class: 'round', 'data-testid': 'prejoin-mic-toggle', 'aria-pressed': 'false', 'aria-label': 'Join muted' });
  const camToggle = h('button', { type: 'button', class: 'round', 'data-testid': 'prejoin-camera-toggle', 'aria-pressed': 'false', 'aria-label': 'Join with camera off' });
  const joinButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'meeting-join' }, 'Join');
  const cancelButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'meeting-cancel', onclick: () => actions.cancel() }, 'Cancel');

  const renderToggles = () => {
    replace(micToggle, icon(state.audioMuted ? 'mic-off' : 'mic'));
    micToggle.setAttribute('aria-pressed', String(state.audioMuted));
    micToggle.classList.toggle('off', state.audioMuted);
    replace(camToggle, icon(state.videoMuted ? 'camera-off' : 'camera'));
    camToggle.setAttribute('aria-pressed', String(state.videoMuted));
    camToggle.classList.toggle('off', state.videoMuted);
    const hasVideo = (stream?.getVideoTracks().length ?? 0) > 0;
    noCamera.hidden = hasVideo && !state.videoMuted;
    noCamera.textContent = hasVideo ? 'Camera off' : 'No camera';
    video.hidden = !noCamera.hidden;
  };
  micToggle.addEventListener('click', () => {
    state.audioMuted = !state.audioMuted;
    renderToggles();
  });
  camToggle.addEventListener('click', () => {
    state.videoMuted = !state.videoMuted;
    renderToggles();
  });

  const fillSelect = (select: HTMLSelectElement, devices: MediaDeviceInfo[], current: string | undefined, what: string) => {
    replace(
      select,
      devices.length === 0 ? h('option', { value: '' }, `No ${what}`) : devices.map((d, i) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `${what} ${i + 1}`)),
    );
    select.disabled = devices.length === 0;
  };

  const open = async () => {
    stopMeter();
    for (const t of stream?.getTracks() ?? []) t.stop();
    stream = null;
    const opened = await openMedia(chosen);
    if (disposed) {
      for (const t of opened.stream?.getTracks() ?? []) t.stop();
      return;
    }
    stream = opened.stream;
    note.textContent = opened.note ?? '';
    video.srcObject = stream;
    const mic = stream?.getAudioTracks()[0];
    const cam = stream?.getVideoTracks()[0];
    if (mic) {
      stopMeter = levelMeter(mic, (level) => {
        const pct = Math.round(level * 100);
        bar.style.width = `${pct}%`;
        if (String(pct) !== meter.getAttribute('aria-valuenow')) meter.setAttribute('aria-valuenow', String(pct));
      });
    }
    // Labels are only known once permission is granted, so list after opening.
    const devices = await listDevices();
    fillSelect(micSelect, devices.audio, mic?.getSettings().deviceId, 'Microphone');
    fillSelect(camSelect, devices.video, cam?.getSettings().deviceId, 'Camera');
    renderToggles();
    joinButton.disabled = false;
  };
  micSelect.addEventListener('change', () => {
    chosen.audio = micSelect.value || undefined;
    void open();
  });
  camSelect.addEventListener('change', () => {
    chosen.video = camSelect.value || undefined;
    void open();
  });

  const form = h(
    'form',
    { class: 'prejoin', 'data-testid': 'prejoin', 'aria-label': `Check your camera and microphone before joining ${title}` },
    h('div', { class: 'preview' }, video, noCamera, h('div', { class: 'preview-toggles' }, micToggle, camToggle)),
    h(
      'div',
      { class: 'prejoin-side' },
      h('h2', null, 'Ready to join?'),
      h('p', { class: 'hint' }, title),
      h('div', { class: 'field' }, h('label', { for: 'prejoin-camera' }, 'Camera'), camSelect),
      h('div', { class: 'field' }, h('label', { for: 'prejoin-mic' }, 'Microphone'), micSelect),
      h('div', { class: 'field' }, h('span', { class: 'label', 'aria-hidden': 'true' }, 'Microphone level'), meter),
      note,
      error,
      h('div', { class: 'prejoin-actions' }, cancelButton, joinButton),
    ),
  );
  joinButton.disabled = true;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (joinButton.disabled) return;
    error.textContent = '';
    joinButton.disabled = true;
    joinButton.textContent = 'Joining…';
    stopMeter();
    stopMeter = () => {};
    handedOver = true;
    actions.join({ stream, audioMuted: state.audioMuted, videoMuted: state.videoMuted });
  });
  renderToggles();
  void open();

  return {
    el: form,
    failed: (message) => {
      // The meeting stopped the stream it was given: open the devices again for another try.
      handedOver = false;
      error.textContent = message;
      joinButton.textContent = 'Join';
      void open();
    },
    dispose: () => {
      disposed = true;
      stopMeter();
      if (!handedOver) for (const t of stream?.getTracks() ?? []) t.stop();
    },
  };
}
