/**
 * A Chromium participant for SFU tests: the Parley session (signaling) lives in Node, the two peer
 * connections live in a Chromium page with fake camera and microphone. Node carries the SDP both
 * ways (no trickle: each side's description goes out with its gathered candidates), so a test can
 * rewrite it, e.g. to route the subscribing pc through a throttling relay.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Results, RtcFrame, Tokens } from '@parley/protocol';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

/** Page side, plain JavaScript (no build step): `window.T`. */
const PAGE_SCRIPT = `
window.T = {
  pub: null, sub: null, stream: null,
  gather(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, 3000);
    });
  },
  async media(audio, video) {
    if (!audio && !video) {
      // Nothing to publish; asking once still lifts mDNS obfuscation of host candidates.
      for (const t of (await navigator.mediaDevices.getUserMedia({ audio: true })).getTracks()) t.stop();
      return;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ audio, video: video ? { width: 640, height: 360, frameRate: 30 } : false });
  },
  async publishOffer(simulcast) {
    const pc = (this.pub = new RTCPeerConnection({ bundlePolicy: 'max-bundle' }));
    const mids = [];
    for (const t of this.stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [this.stream] };
      // Two layers: Chromium sends at most two simulcast streams of a 640×360 camera (three from 960×540 up).
      if (t.kind === 'video' && simulcast) init.sendEncodings = [{ rid: 'q', scaleResolutionDownBy: 2 }, { rid: 'f' }];
      mids.push({ tr: pc.addTransceiver(t, init), source: t.kind === 'audio' ? 'mic' : 'camera' });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await this.gather(pc);
    return { sdp: pc.localDescription.sdp, tracks: mids.map((m) => ({ mid: m.tr.mid, source: m.source })) };
  },
  async publishAnswer(sdp) { await this.pub.setRemoteDescription({ type: 'answer', sdp }); },
  async subOffer(sdp) {
    if (!this.sub) this.sub = new RTCPeerConnection({ bundlePolicy: 'balanced' });
    await this.sub.setRemoteDescription({ type: 'offer', sdp });
    await this.sub.setLocalDescription(await this.sub.createAnswer());
    await this.gather(this.sub);
    return this.sub.localDescription.sdp;
  },
  async setActive(active) {
    const tr = this.pub.getTransceivers().find((t) => t.sender.track && t.sender.track.kind === 'video');
    if (!tr) return;
    const p = tr.sender.getParameters();
    for (const e of p.encodings) if (e.rid !== undefined) e.active = active[e.rid] !== false;
    await tr.sender.setParameters(p);
  },
  async stats(which) {
    const pc = which === 'pub' ? this.pub : this.sub;
    const out = [];
    if (!pc) return out;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') out.push({ type: s.type, kind: s.kind, mid: s.mid, rid: s.rid, ssrc: s.ssrc, frameWidth: s.frameWidth, frameHeight: s.frameHeight, framesDecoded: s.framesDecoded, bytes: s.bytesReceived ?? s.bytesSent, packets: s.packetsReceived ?? s.packetsSent, audioLevel: s.audioLevel });
    });
    return out;
  },
  async remoteOutbound() {
    // What the SFU's RTCP sender reports told the subscribing pc.
    const out = [];
    if (this.sub) (await this.sub.getStats()).forEach((s) => {
      if (s.type === 'remote-outbound-rtp') out.push({ type: s.type, kind: s.kind, ssrc: s.ssrc, packets: s.packetsSent, bytes: s.bytesSent, reportsSent: s.reportsSent });
    });
    return out;
  },
  close() { if (this.pub) this.pub.close(); if (this.sub) this.sub.close(); if (this.stream) for (const t of this.stream.getTracks()) t.stop(); },
};
`;

export interface RtpStat {
  type: 'inbound-rtp' | 'outbound-rtp' | 'remote-outbound-rtp';
  kind: 'audio' | 'video';
  mid?: string;
  ssrc?: number;
  /** remote-outbound-rtp: how many sender reports arrived. */
  reportsSent?: number;
  rid?: string;
  frameWidth?: number;
  frameHeight?: number;
  framesDecoded?: number;
  bytes?: number;
  packets?: number;
}

export interface BrowserPeerOptions {
  /** Rewrite the server's subscribing offer before the page sees it (e.g. to a relay). */
  rewriteSubOffer?: (sdp: string) => string;
  /** Rewrite the page's subscribing answer before the server sees it. */
  rewriteSubAnswer?: (sdp: string) => string;
}

export class BrowserPeer {
  client!: TestClient;
  ctx!: BrowserContext;
  page!: Page;
  participant = '';
  /** mid of the subscribing pc -> track id (from the server's offers). */
  readonly mids = new Map<string, string>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly tokens: Tokens,
    private readonly opts: BrowserPeerOptions = {},
  ) {}

  async open(browser: Browser, url: string, media: { audio: boolean; video: boolean }): Promise<this> {
    this.ctx = await browser.newContext({ permissions: ['camera', 'microphone'] });
    this.page = await this.ctx.newPage();
    // A page of the server's origin: 127.0.0.1 is a secure context (about:blank has no mediaDevices).
    await this.page.goto(`${url}/healthz`).catch(() => {});
    await this.page.evaluate(PAGE_SCRIPT);
    // getUserMedia also lifts mDNS obfuscation, so the page's host candidates are real addresses.
    await this.page.evaluate(([a, v]) => (window as unknown as { T: { media(a: boolean, v: boolean): Promise<void> } }).T.media(a, v), [media.audio, media.video] as const);
    this.client = new TestClient(await connectWs(url, this.tokens.access));
    await this.client.welcome();
    this.client.link.onFrame((f) => {
      if (f.t === 'rtc' && f.ev === 'offer') this.serial(() => this.onOffer(f));
      // The SFU pauses and resumes simulcast layers: do as the web app does.
      if (f.t === 'rtc' && f.ev === 'layers') {
        const active = f.active;
        this.serial(() => this.page.evaluate((a) => (window as unknown as { T: { setActive(a: Record<string, boolean>): Promise<void> } }).T.setActive(a), active));
      }
    });
    return this;
  }

  private serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => {
      if (!this.closed) console.error('browser peer', err);
    });
  }

  private async onOffer(f: Extract<RtcFrame, { ev: 'offer' }>): Promise<void> {
    for (const [mid, track] of Object.entries(f.mids)) this.mids.set(mid, track);
    const offer = this.opts.rewriteSubOffer ? this.opts.rewriteSubOffer(f.sdp) : f.sdp;
    let answer = await this.page.evaluate((sdp) => (window as unknown as { T: { subOffer(s: string): Promise<string> } }).T.subOffer(sdp), offer);
    if (this.opts.rewriteSubAnswer) answer = this.opts.rewriteSubAnswer(answer);
    await this.client.request({ t: 'rtc.answer', pc: 'sub', sdp: answer });
  }

  async join(room: string): Promise<void> {
    const res = await this.client.request<Results['rtc.join']>({ t: 'rtc.join', room });
    this.participant = res.participant;
  }

  async publish(simulcast: boolean): Promise<void> {
    const { sdp, tracks } = await this.page.evaluate((s) => (window as unknown as { T: { publishOffer(s: boolean): Promise<{ sdp: string; tracks: { mid: string; source: 'mic' | 'camera' }[] }> } }).T.publishOffer(s), simulcast);
    const res = await this.client.request<Results['rtc.offer']>({ t: 'rtc.offer', pc: 'pub', sdp, tracks });
    await this.page.evaluate((a) => (window as unknown as { T: { publishAnswer(s: string): Promise<void> } }).T.publishAnswer(a), res.sdp);
  }

  stats(which: 'pub' | 'sub'): Promise<RtpStat[]> {
    return this.page.evaluate((w) => (window as unknown as { T: { stats(w: string): Promise<RtpStat[]> } }).T.stats(w), which);
  }

  /** remote-outbound-rtp of the subscribing pc: one per SSRC the SFU sent sender reports for. */
  remoteOutbound(): Promise<RtpStat[]> {
    return this.page.evaluate(() => (window as unknown as { T: { remoteOutbound(): Promise<RtpStat[]> } }).T.remoteOutbound());
  }

  /** Inbound video of one forwarded track (by track id). */
  async inboundVideo(track: string): Promise<RtpStat | undefined> {
    const mid = [...this.mids.entries()].find(([, t]) => t === track)?.[0];
    return (await this.stats('sub')).find((s) => s.type === 'inbound-rtp' && s.kind === 'video' && s.mid === mid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client?.close();
    await this.page?.evaluate(() => (window as unknown as { T: { close(): void } }).T.close()).catch(() => {});
    await this.ctx?.close().catch(() => {});
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `f()` holds, polling; the error says what was last seen. */
export async function eventually<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await f();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(250);
  }
}
