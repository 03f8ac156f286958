/**
 * Local camera and microphone: opening them with fallbacks (no camera -> audio only, and so on),
 * listing devices, and a microphone level meter on WebAudio.
 */

/** Small video: every participant sends one stream to every other one through the SFU. */
// Two simulcast layers (320×180, 640×360): Chromium sends two from 640×360, three only from 960×540 up,
// which costs every participant's CPU more than a small meeting tile is worth.
const VIDEO: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { max: 15 } };

export interface Chosen {
  audio?: string | undefined;
  video?: string | undefined;
}

export interface Opened {
  stream: MediaStream | null;
  /** What could not be opened, for the user; null when everything worked. */
  note: string | null;
}

/** Open the chosen (or default) camera and microphone; falls back to whatever works. */
export async function openMedia(chosen: Chosen = {}): Promise<Opened> {
  const audio: MediaTrackConstraints | boolean = chosen.audio ? { deviceId: { exact: chosen.audio } } : true;
  const video: MediaTrackConstraints = chosen.video ? { ...VIDEO, deviceId: { exact: chosen.video } } : VIDEO;
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, note: 'This browser cannot use a camera or microphone here (it needs HTTPS or localhost).' };
  let lastErr: unknown = null;
  for (const [c, note] of [
    [{ audio, video }, null],
    [{ audio, video: false }, 'No camera: you join with audio only.'],
    [{ audio: false, video }, 'No microphone: others will not hear you.'],
  ] as [MediaStreamConstraints, string | null][]) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(c), note };
    } catch (err) {
      lastErr = err;
    }
  }
  const name = (lastErr as { name?: string })?.name;
  return {
    stream: null,
    note: name === 'NotAllowedError' ? 'Camera and microphone are blocked for this site: you can still join, see and hear the others.' : 'No camera or microphone found: you can still join, see and hear the others.',
  };
}

export async function listDevices(): Promise<{ audio: MediaDeviceInfo[]; video: MediaDeviceInfo[] }> {
  const all = await navigator.mediaDevices?.enumerateDevices().catch(() => []) ?? [];
  return { audio: all.filter((d) => d.kind === 'audioinput'), video: all.filter((d) => d.kind === 'videoinput') };
}

/** The microphone's level (0..1) on every animation frame, until the returned function is called. */
export function levelMeter(track: MediaStreamTrack, onLevel: (level: number) => void): () => void {
  let ctx: AudioContext;
  try {
    ctx = new AudioContext();
  } catch {
    return () => {};
  }
  // A context made without a user gesture starts suspended; any click or key resumes it.
  const resume = () => void ctx.resume().catch(() => {});
  resume();
  document.addEventListener('pointerdown', resume);
  document.addEventListener('keydown', resume);
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let raf = 0;
  const loop = () => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    // RMS, scaled so that normal speech fills most of the bar.
    onLevel(Math.min(1, Math.sqrt(sum / buf.length) * 4));
    raf = requestAnimationFrame(loop);
  };
  raf = requestAnimationFrame(loop);
  return () => {
    cancelAnimationFrame(raf);
    document.removeEventListener('pointerdown', resume);
    document.removeEventListener('keydown', resume);
    source.disconnect();
    void ctx.close().catch(() => {});
  };
}
