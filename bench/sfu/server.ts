/**
 * The SFU bench's server process: a real Parley node (SQLite, loopback ICE) with UDP-level probes.
 *
 * Probes (dgram monkey-patches, installed before werift opens a socket):
 * - every RTP datagram received / sent is counted (RTP is told from RTCP, STUN and DTLS by its
 *   first two bytes, which SRTP leaves in clear);
 * - forwarding latency: werift handles a datagram synchronously from the socket's 'message' event
 *   down to `socket.send` of each forwarded copy (decrypt → route → our Publisher → DownTracks →
 *   RTCRtpSender → encrypt → send, no await that yields in between). So the time from the start
 *   of the 'message' dispatch to each RTP `send` inside it is the SFU's processing latency of that
 *   copy; the n-th copy of a fan-out includes the n−1 before it. What it cannot see is the time a
 *   datagram waited in the socket buffer before Node dispatched it: the event-loop delay
 *   (monitorEventLoopDelay) is reported beside it for that, and the bots measure end to end.
 *
 * Talks to bench/sfu/run.ts over IPC: 'stats' → counters and the latency samples since 'reset'.
 */
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { ParleyNode } from '../../packages/server/src/node.ts';
import { loopbackOnly } from '../../packages/server/src/rtc/MeetingOptions.ts';
import { isRtp } from './rtp.ts';

const MAX_SAMPLES = 400_000;
const samples = new Float64Array(MAX_SAMPLES);
let nSamples = 0;
let seen = 0;
let rtpIn = 0;
let rtpOut = 0;
let inAt = -1;

type Emit = (this: dgram.Socket, event: string | symbol, ...args: unknown[]) => boolean;
const proto = dgram.Socket.prototype as unknown as { emit: Emit; send: (...args: unknown[]) => void };
const origEmit = proto.emit;
proto.emit = function (this: dgram.Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (event !== 'message' || !isRtp(args[0] as Buffer)) return origEmit.call(this, event, ...args);
  rtpIn += 1;
  inAt = performance.now();
  try {
    return origEmit.call(this, event, ...args);
  } finally {
    inAt = -1;
  }
};
const origSend = proto.send;
proto.send = function (this: dgram.Socket, ...args: unknown[]): void {
  const data = args[0];
  if (Buffer.isBuffer(data) && isRtp(data)) {
    rtpOut += 1;
    if (inAt >= 0) {
      // Reservoir sampling keeps a uniform sample when there are more copies than slots.
      const d = performance.now() - inAt;
      seen += 1;
      if (nSamples < MAX_SAMPLES) samples[nSamples++] = d;
      else {
        const j = Math.floor(Math.random() * seen);
        if (j < MAX_SAMPLES) samples[j] = d;
      }
    }
  }
  origSend.apply(this, args);
};

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

const node = await ParleyNode.start(
  {
    port: 0,
    host: '127.0.0.1',
    tokenSecret: 'bench-secret',
    dataDir: mkdtempSync(join(tmpdir(), 'parley-sfu-bench-')),
    meetings: { hostAddresses: ['127.0.0.1'], iceInterfaces: { udp4: '127.0.0.1' }, candidatePairFilter: loopbackOnly, ipv6: false, maxParticipants: 1000, disconnectGraceMs: 60_000 },
  },
  { logger: pino({ level: 'warn' }) },
);

process.on('message', (m: unknown) => {
  if (m === 'reset') {
    nSamples = 0;
    seen = 0;
    loop.reset();
    process.send?.({ t: 'reset' });
  } else if (m === 'stats') {
    process.send?.({
      t: 'stats',
      rtpIn,
      rtpOut,
      latency: Array.from(samples.subarray(0, nSamples)),
      loopP50: loop.percentile(50) / 1e6,
      loopP99: loop.percentile(99) / 1e6,
      rooms: node.meetings?.rooms.stats(),
    });
  }
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.stop().catch(() => {});
  process.exit(0); // writes the --cpu-prof profile
}
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
process.send?.({ t: 'ready', url: node.url, pid: process.pid });
