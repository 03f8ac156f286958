/**
 * Meeting quality in Chromium (fake camera and microphone) through the real SFU on loopback. One
 * file, one browser process at a time: the SFU's JavaScript SRTP and several Chromiums share a
 * small machine.
 *
 * 1. Simulcast: a publisher sends two layers (rid q 320×180, f 640×360: a small camera keeps a busy
 *    machine's Chromium able to reach the top layer's bitrate); a subscriber showing a small tile
 *    receives the low layer (its decoded frame width tells), a large tile gets the high one.
 *    Layers nobody watches are paused at the publisher (Chromium stops sending them).
 * 2. Bandwidth: a subscriber behind a throttling UDP relay is moved down a layer by the SFU's
 *    estimate (from the browser's own transport-cc feedback), and back up when the link recovers.
 * 3. Last-N: 29 werift bots and a browser in one room; the browser receives at most N videos (and
 *    has at most N video m-lines: the subscriber's slots), its
 *    own tiles among them, and hears of each join exactly once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import type { Results, RtcFrame, Tokens } from '@parley/protocol';
import type { RoomId, TrackId } from '../../src/rtc/RoomTypes.ts';
import { TestClient } from '../helpers/clients.ts';
import { connectWs } from '../helpers/ws-link.ts';
import { loopbackOnly } from '../../src/rtc/MeetingOptions.ts';
import { register, startServer, type TestServer } from '../helpers/server.ts';
import { Bot, until } from '../rtc/bot.ts';
import { BrowserPeer, CHROMIUM, CHROMIUM_ARGS, eventually, sleep } from './browser.ts';
import { ThrottleRelay } from './throttle.ts';

const skip = !existsSync(CHROMIUM) && process.env['CI'] !== 'true' ? `no Chromium at ${CHROMIUM}` : false;

describe('meeting quality in Chromium', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  const peers: BrowserPeer[] = [];
  const stats = () => server.node.meetings!.rooms.stats();

  before(async () => {
    server = await startServer({ meetings: { hostAddresses: ['127.0.0.1'], candidatePairFilter: loopbackOnly, ipv6: false, layerPauseMs: 3000, disconnectGraceMs: 30_000 } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  });
  after(async () => {
    for (const p of peers) await p.close();
    await browser?.close();
    await server?.stop();
  });

  /** n registered users and a group conversation of them all. */
  async function room(n: number): Promise<{ conv: string; tokens: Tokens[] }> {
    const tokens = await Promise.all(Array.from({ length: n }, (_, i) => register(server.url, `u${i}`)));
    const c = new TestClient(await connectWs(server.url, tokens[0]!.access));
    await c.welcome();
    const group = await c.request<Results['conv.group']>({ t: 'conv.group', name: 'q', members: tokens.slice(1).map((t) => t.user) });
    c.close();
    return { conv: group.conversation.id, tokens };
  }

  /** The SFU's side of one subscriber's downtrack: the layer it forwards, the subscriber's estimate. */
  function downOf(participant: string, track: string) {
    for (const r of [conv].map((c) => server.node.meetings!.rooms.room(c as RoomId))) {
      const p = r?.participants().find((x) => x.id === participant);
      if (p) return { down: p.subscriber.downTrack(track as TrackId), sub: p.subscriber, layers: p.subscriber.downTrack(track as TrackId)?.track.layers() };
    }
    return undefined;
  }
  let conv = '';
  /** What the SFU thinks, for failure messages. */
  function probe(participant: string, track: string) {
    const d = downOf(participant, track);
    return { estimate: Math.round(d?.sub.bandwidth ?? -1), decision: d?.down?.decision, layers: d?.layers?.map((l) => `${l.id}:${l.width}x${l.height}@${Math.round(l.bitrate / 1000)}k${l.live ? '' : ' dead'}${l.paused ? ' paused' : ''}`) };
  }

  it('a small tile gets the low simulcast layer, a large tile the high one; unwatched layers pause at the publisher', { timeout: 240_000 }, async () => {
    const made = await room(2);
    conv = made.conv;
    const { tokens } = made;
    const pub = await new BrowserPeer(tokens[0]!).open(browser, server.url, { audio: true, video: true });
    const sub = await new BrowserPeer(tokens[1]!).open(browser, server.url, { audio: false, video: false });
    peers.push(pub, sub);
    await pub.join(conv);
    await sub.join(conv);
    await pub.publish(true);
    const video = (await pub.client.waitFor<Extract<RtcFrame, { ev: 'track-published' }>>((f) => f.t === 'rtc' && f.ev === 'track-published' && f.track.kind === 'video')).track.id;
    await sub.client.request({ t: 'rtc.layer', track: video, width: 320, height: 180 });
    await eventually('low layer decoded', () => sub.inboundVideo(video), (s) => (s?.framesDecoded ?? 0) > 10 && s?.frameWidth === 320, 60_000);
    assert.equal(downOf(sub.participant, video)?.down?.layer, 'q');

    // Nobody watches f: after layerPauseMs the SFU tells the publisher, and Chromium stops sending them.
    const layerFrames = () => pub.client.frames.filter((f): f is Extract<RtcFrame, { ev: 'layers' }> => f.t === 'rtc' && f.ev === 'layers').map((f) => f.active);
    await eventually('layers paused', async () => ({ frames: layerFrames(), ...probe(sub.participant, video) }), (s) => s.frames.some((a) => a['f'] === false && a['q'] === true), 30_000);
    const sent = async () => Object.fromEntries((await pub.stats('pub')).filter((s) => s.kind === 'video').map((s) => [s.rid ?? '', s.bytes ?? 0]));
    await sleep(1000);
    const a = await sent();
    await sleep(2000);
    const b = await sent();
    assert.ok(b['q']! > a['q']! + 1000, `q still flows: ${JSON.stringify([a, b])}`);
    assert.equal(b['f'], a['f'], 'f is not sent while paused');

    // A large tile resumes f (the publisher is told), and the subscriber gets it from its keyframe.
    await sub.client.request({ t: 'rtc.layer', track: video, width: 640, height: 360 });
    await eventually('f resumed', async () => ({ resumed: pub.client.frames.some((f) => f.t === 'rtc' && f.ev === 'layers' && f.active['f'] === true), ...probe(sub.participant, video) }), (s) => s.resumed, 30_000);
    await eventually('high layer decoded', async () => ({ s: await sub.inboundVideo(video), ...probe(sub.participant, video) }), (s) => s.s?.frameWidth === 640, 90_000);
    assert.equal(downOf(sub.participant, video)?.down?.layer, 'f');
    for (const p of peers.splice(0)) await p.close();
    await eventually('ledger back to zero', async () => stats(), (s) => Object.values(s).every((v) => v === 0), 20_000);
  });

  it('a subscriber behind a slow link is moved down a layer, and back up when the link recovers', { timeout: 300_000 }, async () => {
    const made = await room(2);
    conv = made.conv;
    const { tokens } = made;
    const relay = await ThrottleRelay.start();
    try {
      const pub = await new BrowserPeer(tokens[0]!).open(browser, server.url, { audio: false, video: true });
      const sub = await new BrowserPeer(tokens[1]!, { rewriteSubOffer: relay.rewriteOffer, rewriteSubAnswer: relay.stripCandidates }).open(browser, server.url, { audio: false, video: false });
      peers.push(pub, sub);
      await pub.join(conv);
      await sub.join(conv);
      await pub.publish(true);
      const video = (await pub.client.waitFor<Extract<RtcFrame, { ev: 'track-published' }>>((f) => f.t === 'rtc' && f.ev === 'track-published' && f.track.kind === 'video')).track.id;
      await sub.client.request({ t: 'rtc.layer', track: video, width: 640, height: 360 });
      await eventually('high layer through the relay', async () => ({ s: await sub.inboundVideo(video), ...probe(sub.participant, video) }), (s) => s.s?.frameWidth === 640, 90_000);
      // A link with room for the small layer but not the large one: a cap halfway between their
      // rates. Chromium on a loaded machine may shrink its large layer to near the small one's rate
      // (CPU adaptation), leaving no such room, so first wait until the two are well apart.
      const rates = () => {
        const ls = downOf(sub.participant, video)?.layers ?? [];
        return { f: ls.find((l) => l.id === 'f')?.bitrate ?? 0, q: ls.find((l) => l.id === 'q')?.bitrate ?? 0 };
      };
      const apart = await eventually('the two layers well apart', async () => rates(), (r) => r.q > 0 && r.f >= 1.5 * r.q, 90_000);
      const before = downOf(sub.participant, video)!;
      const f = before.layers!.find((l) => l.id === 'f')!;
      relay.rateBps = (apart.q + apart.f) / 2;
      const down = await eventually(
        'moved down',
        async () => ({ layer: downOf(sub.participant, video)?.down?.layer, estimate: Math.round(before.sub.bandwidth), f: Math.round(f.bitrate), cap: relay.rateBps }),
        (s) => s.layer !== 'f',
        60_000,
      );
      assert.notEqual(down.layer, 'f');
      await eventually('a smaller frame decoded', () => sub.inboundVideo(video), (s) => (s?.frameWidth ?? 0) < 640, 30_000);
      relay.rateBps = Infinity;
      await eventually('back up', async () => ({ layer: downOf(sub.participant, video)?.down?.layer, estimate: Math.round(before.sub.bandwidth) }), (s) => s.layer === 'f', 120_000);
      await eventually('the large frame decoded again', () => sub.inboundVideo(video), (s) => s?.frameWidth === 640, 30_000);
      for (const p of peers.splice(0)) await p.close();
      await eventually('ledger back to zero', async () => stats(), (s) => Object.values(s).every((v) => v === 0), 20_000);
    } finally {
      relay.close();
    }
  });

  it('a room of 30: the browser receives at most lastN videos, its tiles among them', { timeout: 400_000 }, async () => {
    const N = server.node.options.meetings.lastN;
    const made = await room(30);
    conv = made.conv;
    const viewer = await new BrowserPeer(made.tokens[0]!).open(browser, server.url, { audio: false, video: false });
    peers.push(viewer);
    await viewer.join(conv);
    const bots = await Promise.all(made.tokens.slice(1).map((t, i) => new Bot(t, i + 1).connect(server.url)));
    try {
      // One at a time, each connected before the next: 60 werift pcs doing ICE and DTLS at once in
      // this one process (the SFU's and the bots') starve each other's checks on a small machine.
      for (const b of bots) {
        await b.join(conv);
        await b.publish(false, ['video']);
        await until(() => b.pub?.connectionState === 'connected', 60_000, `bot ${b.tag} connected`);
      }
      for (const b of bots) b.startMedia(200);
      const published = () => viewer.client.frames.filter((f): f is Extract<RtcFrame, { ev: 'track-published' }> => f.t === 'rtc' && f.ev === 'track-published').map((f) => f.track);
      const dropped = () => bots.flatMap((b) => b.rtcFrames('closed').map((f) => (f as Extract<RtcFrame, { ev: 'closed' }>).reason));
      await until(() => published().length === 29 || dropped().length > 0, 120_000, 'all 29 videos published');
      assert.deepEqual(dropped(), [], 'no bot was dropped');
      // The viewer shows two tiles in particular: the last two bots to join (no speaker, late in join order).
      const tiles = published().slice(-2);
      for (const t of tiles) await viewer.client.request({ t: 'rtc.layer', track: t.id, width: 640, height: 360 });
      // m-lines only for what is forwarded (slots): N videos, not 29.
      await until(() => viewer.mids.size >= N, 90_000, 'the viewer negotiated N video m-lines');

      const flowing = async () => {
        const a = await viewer.stats('sub');
        await sleep(2000);
        const b = await viewer.stats('sub');
        // Packets, not frames: the bots' VP8 is synthetic and does not decode.
        const before = new Map(a.filter((s) => s.kind === 'video').map((s) => [s.mid, s.packets ?? 0]));
        return b.filter((s) => s.kind === 'video' && (s.packets ?? 0) > (before.get(s.mid) ?? 0)).map((s) => viewer.mids.get(s.mid ?? '') ?? '?');
      };
      const got = await eventually('N videos flowing', flowing, (ids) => ids.length === N, 120_000);
      for (const t of tiles) assert.ok(got.includes(t.id), `the viewer's tile ${t.id} is among the forwarded videos`);
      // Chromium takes the SFU's compound sender reports (all of a pc's SSRCs in one packet): each
      // flowing video has a remote-outbound-rtp entry, from SRs with the SFU's counters.
      await eventually(
        'a sender report for each forwarded video',
        async () => {
          const s = await viewer.stats('sub');
          const remote = new Map((await viewer.remoteOutbound()).map((x) => [x.ssrc, x]));
          return s.filter((x) => x.type === 'inbound-rtp' && x.kind === 'video' && (x.packets ?? 0) > 0).map((x) => ({ inbound: x, remote: remote.get(x.ssrc) }));
        },
        (rows) => rows.length >= N && rows.every((r) => (r.remote?.reportsSent ?? 0) >= 1 && (r.remote?.packets ?? 0) > 0),
        30_000,
      );
      // Still at most N a while later, and the SFU agrees for every participant.
      assert.ok((await flowing()).length <= N);
      const r = server.node.meetings!.rooms.room(conv as RoomId)!;
      assert.equal(r.size, 30);
      for (const p of r.participants()) assert.ok(p.subscriber.downTracks().filter((d) => d.track.kind === 'video' && d.forwarded).length <= N);
      // Joins did not grow anyone's SDP past the forwarded set: at most N video m-lines each.
      for (const p of r.participants()) assert.ok(p.subscriber.slotCount('video') <= N, `${p.subscriber.slotCount('video')} video m-lines`);
      // Joins were announced in batches, each bot exactly once.
      const batches = viewer.client.frames.filter((f): f is Extract<RtcFrame, { ev: 'participants-changed' }> => f.t === 'rtc' && f.ev === 'participants-changed');
      const joined = batches.flatMap((b) => b.joined.map((j) => j.id));
      assert.equal(new Set(joined).size, 29);
      assert.equal(joined.length, 29);
      assert.ok(batches.length <= 29, 'no join announced twice (bursts batch: test/rtc-quality/room.test.ts)');
    } finally {
      for (const b of bots) b.closed = true;
      await Promise.allSettled(bots.map((b) => b.close()));
      for (const p of peers.splice(0)) await p.close();
    }
    await eventually('ledger back to zero', async () => stats(), (s) => Object.values(s).every((v) => v === 0), 30_000);
  });
});
