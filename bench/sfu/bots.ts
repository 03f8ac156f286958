/**
 * A bot process of the SFU bench: many werift participants (a Parley WebSocket session plus
 * peer connections each). Publishers send one synthetic VP8-looking video track at the rate the
 * orchestrator sets; everyone answers the SFU's offers and receives what it forwards.
 *
 * Receiving is the expensive half for a Node client, and the bench measures the server, not the
 * bots: every (S)RTP datagram is counted at the UDP socket, and only one in `sampleEvery` is
 * handed to werift (decrypted, parsed) for the latency sample (chosen at random). SRTP copes with the gaps (it is
 * loss to it); NACK generation is switched off in this process so the gaps cause no
 * retransmissions at the server.
 *
 * Payload: [0x10, 0x01] (VP8 descriptor, S=1, an inter frame; [0x10, 0x00], a keyframe's first
 * packet, for the first packet and after each PLI: the SFU's layer selector starts forwarding a
 * video track to a subscriber only at a keyframe), the send time as a float64
 * (performance.timeOrigin + now(), comparable across processes on one machine), the publisher's
 * index (uint16), zero fill.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RtpHeader, RtpPacket, useVP8, type RTCPeerConnectionConfig } from 'werift';
import type { Results, RtcFrame, Tokens } from '@parley/protocol';
import { TestClient } from '../../packages/server/test/helpers/clients.ts';
import { connectWs } from '../../packages/server/test/helpers/ws-link.ts';
import { guardDtlsClient } from '../../packages/server/src/rtc/dtlsGuard.ts';
import { isRtp } from './rtp.ts';

export interface BotPlan {
  url: string;
  conv: string;
  participants: { tokens: Tokens; publish: boolean; index: number }[];
  sampleEvery: number;
  payloadBytes: number;
}

let rtpIn = 0;
let sampleEvery = 8;
/** Streams (receiving socket × SSRC) that delivered at least one packet since the last 'stats'. */
const streamsSeen = new Set<number>();
const latencies: number[] = [];
const now = () => performance.timeOrigin + performance.now();

type Emit = (this: dgram.Socket, event: string | symbol, ...args: unknown[]) => boolean;
const proto = dgram.Socket.prototype as unknown as { emit: Emit };
const origEmit = proto.emit;
proto.emit = function (this: dgram.Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'message' && isRtp(args[0] as Buffer)) {
    rtpIn += 1;
    // A stream is a (receiving socket, SSRC) pair: the SSRC is in clear in SRTP.
    streamsSeen.add(this.address().port * 2 ** 32 + (args[0] as Buffer).readUInt32BE(8));
    // At random, not every n-th: a fixed fan-out order would alias with a counter, and some
    // publisher/subscriber pairs would never be sampled.
    if (Math.random() * sampleEvery >= 1) return true;
  }
  return origEmit.call(this, event, ...args);
};
// The bots are werift DTLS clients of every pc (the SFU answers setup:passive and its offers are
// answered active): under load a reply later than 0.5 s brings a second HelloVerifyRequest, which
// fails an unguarded werift client (packages/server/src/rtc/dtlsGuard.ts).
guardDtlsClient();
// Gaps from sampling must not turn into NACKs (and retransmissions at the server).
Object.defineProperty(RTCRtpReceiver.prototype, 'nackEnabled', { get: () => undefined });

const peerConfig: Partial<RTCPeerConnectionConfig> = {
  codecs: { video: [useVP8()] },
  // No STUN: werift's default (a public STUN server) made every setLocalDescription wait out its
  // 5 s gathering timeout on a machine without Internet access.
  iceServers: [],
  bundlePolicy: 'max-bundle',
  iceUseIpv6: false,
  iceAdditionalHostAddresses: ['127.0.0.1'],
  iceInterfaceAddresses: { udp4: '127.0.0.1' },
  iceFilterCandidatePair: (pair) => pair.localCandidate.host === '127.0.0.1' && pair.remoteCandidate.host === '127.0.0.1',
};

let nextId = 0;
/** A command with a long timeout: under load the SFU's SDP work takes seconds, not milliseconds. */
async function request<T>(client: TestClient, cmd: Record<string, unknown> & { t: string }): Promise<T> {
  const id = `b${nextId++}`;
  client.link.send({ ...cmd, id } as never);
  const f = await client.waitFor((x) => (x.t === 'res' || x.t === 'err') && x.id === id, 120_000, `answer to ${cmd.t}`);
  if (f.t === 'err') throw new Error(`${cmd.t}: ${f.code}`);
  return (f as { data: T }).data;
}

class BotParticipant {
  client!: TestClient;
  pub: RTCPeerConnection | null = null;
  sub: RTCPeerConnection | null = null;
  readonly track = new MediaStreamTrack({ kind: 'video' });
  /** Publishers heard from (by index), from sampled packets. */
  readonly sources = new Set<number>();
  private seq = Math.floor(Math.random() * 60000);
  private ts = 0;
  private carry = 0;
  private readonly payload: Buffer;
  /** The next packet starts a keyframe (the first one, and after a PLI from the SFU). */
  private keyframeDue = true;

  constructor(
    readonly tokens: Tokens,
    readonly index: number,
    payloadBytes: number,
  ) {
    this.payload = Buffer.alloc(payloadBytes);
    this.payload[0] = 0x10;
    this.payload[1] = 0x01;
    this.payload.writeUInt16LE(index, 10);
  }

  async join(url: string, conv: string, publish: boolean): Promise<void> {
    this.client = new TestClient(await connectWs(url, this.tokens.access));
    await this.client.welcome();
    this.client.link.onFrame((f) => {
      if (f.t === 'rtc') void this.onRtc(f).catch((err: unknown) => process.stderr.write(`bot ${this.index}: ${String(err)}\n`));
    });
    await request<Results['rtc.join']>(this.client, { t: 'rtc.join', room: conv });
    if (!publish) return;
    const pub = (this.pub = new RTCPeerConnection(peerConfig));
    pub.onIceCandidate.subscribe((c) => {
      if (c) this.client.link.send({ t: 'rtc.ice', pc: 'pub', candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
    });
    const tr = pub.addTransceiver(this.track, { direction: 'sendonly' });
    tr.sender.onPictureLossIndication.subscribe(() => (this.keyframeDue = true));
    await pub.setLocalDescription(await pub.createOffer());
    const res = await request<Results['rtc.offer']>(this.client, { t: 'rtc.offer', pc: 'pub', sdp: pub.localDescription!.sdp, tracks: [{ mid: tr.mid ?? '0', source: 'camera' }] });
    await pub.setRemoteDescription({ type: 'answer', sdp: res.sdp });
  }

  /** Resolves when the publishing pc is connected (or after `timeoutMs`, to go on regardless). */
  connected(timeoutMs: number): Promise<void> {
    const pc = this.pub;
    if (!pc || pc.connectionState === 'connected') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected' || state === 'failed') {
          clearTimeout(t);
          resolve();
        }
      });
    });
  }

  private async onRtc(f: RtcFrame): Promise<void> {
    if (f.ev === 'offer') {
      const t0 = performance.now();
      const sub = this.ensureSub();
      await sub.setRemoteDescription({ type: 'offer', sdp: f.sdp });
      const t1 = performance.now();
      await sub.setLocalDescription(await sub.createAnswer());
      const t2 = performance.now();
      await request(this.client, { t: 'rtc.answer', pc: 'sub', sdp: sub.localDescription!.sdp });
      if (process.env['SFU_BENCH_DEBUG_BOTS']) process.stderr.write(`bot ${this.index}: sub offer applied in ${(t1 - t0).toFixed(0)} ms, answer made in ${(t2 - t1).toFixed(0)} ms, answered in ${(performance.now() - t2).toFixed(0)} ms\n`);
    } else if (f.ev === 'ice' && f.candidate) {
      const pc = f.pc === 'pub' ? this.pub : this.sub;
      await pc?.addIceCandidate({ candidate: f.candidate.candidate, sdpMid: f.candidate.sdpMid ?? undefined, sdpMLineIndex: f.candidate.sdpMLineIndex ?? undefined });
    }
  }

  private ensureSub(): RTCPeerConnection {
    if (this.sub) return this.sub;
    const sub = (this.sub = new RTCPeerConnection(peerConfig));
    sub.onIceCandidate.subscribe((c) => {
      if (c) this.client.link.send({ t: 'rtc.ice', pc: 'sub', candidate: { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null } });
    });
    sub.onRemoteTransceiverAdded.subscribe((tr) => {
      tr.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((p) => {
          if (p.payload.length < 12) return;
          latencies.push(now() - p.payload.readDoubleLE(2));
          this.sources.add(p.payload.readUInt16LE(10));
        });
      });
    });
    return sub;
  }

  /** Send the packets due at `rate` per second over `dtMs`. */
  pump(rate: number, dtMs: number): void {
    this.carry += (rate * dtMs) / 1000;
    while (this.carry >= 1) {
      this.carry -= 1;
      this.payload.writeDoubleLE(now(), 2);
      this.payload[1] = this.keyframeDue ? 0x00 : 0x01;
      this.keyframeDue = false;
      this.seq = (this.seq + 1) & 0xffff;
      this.ts = (this.ts + 3000) >>> 0;
      this.track.writeRtp(new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: this.seq, timestamp: this.ts, ssrc: 0x10000 + this.index, marker: true }), Buffer.from(this.payload)));
    }
  }

  async close(): Promise<void> {
    this.client?.close();
    await Promise.allSettled([this.pub?.close(), this.sub?.close()]);
  }
}

const bots: BotParticipant[] = [];
let rate = 0;
let last = performance.now();
setInterval(() => {
  const t = performance.now();
  const dt = Math.min(100, t - last);
  last = t;
  if (rate > 0) for (const b of bots) if (b.pub) b.pump(rate, dt);
}, 5);

const send = (m: object) => process.send?.(m);
process.on('message', (raw: string | { t: string; plan?: BotPlan; rate?: number }) => {
  const m = typeof raw === 'string' ? { t: raw, plan: undefined, rate: undefined } : raw;
  void (async () => {
    if (m.t === 'start' && m.plan) {
      const plan = m.plan;
      sampleEvery = plan.sampleEvery;
      // Join a few at a time: a burst of 100 DTLS handshakes starves everyone's ICE checks.
      const queue = [...plan.participants];
      const worker = async () => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const b = new BotParticipant(p.tokens, p.index, plan.payloadBytes);
          bots.push(b);
          await b.join(plan.url, plan.conv, p.publish);
          // SFU_BENCH_SERIAL=1: each worker waits for a publisher's pc to connect before its next
          // join (needed before the DTLS guard, when a handshake slower than 0.5 s failed the pc;
          // kept to compare set-up times).
          if (p.publish && process.env['SFU_BENCH_SERIAL']) await b.connected(60_000);
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      send({ t: 'joined' });
    } else if (m.t === 'rate') {
      rate = m.rate ?? 0;
      send({ t: 'rate' });
    } else if (m.t === 'stats') {
      if (process.env['SFU_BENCH_DEBUG_BOTS']) {
        for (const b of bots.filter((x) => x.sources.size < 9)) {
          const trs = b.sub?.getTransceivers() ?? [];
          process.stderr.write(`bot ${b.index}: heard ${[...b.sources].join(',')}; sub ${b.sub?.connectionState} transceivers ${trs.length} (${trs.map((t) => `${t.mid}:${t.currentDirection}:${t.receiver.tracks.length}`).join(' ')})\n`);
        }
      }
      send({ t: 'stats', rtpIn, at: performance.now(), latency: latencies.splice(0), sources: bots.map((b) => b.sources.size), streams: streamsSeen.size });
      streamsSeen.clear();
    } else if (m.t === 'stop') {
      rate = 0;
      await Promise.allSettled(bots.map((b) => b.close()));
      process.exit(0);
    }
  })().catch((err: unknown) => {
    process.stderr.write(`bots: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
