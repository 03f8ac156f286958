/**
 * The SFU bench's server process: a real Parley node (SQLite, loopback ICE) with UDP-level probes.
 *
 * Probes (monkey-patches of dgram's 'message' dispatch and of the UDP handle's send, installed
 * before werift opens a socket):
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
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
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

/** SFU_BENCH_COUNT=1: datagrams received and sent per second by kind (RTP, RTCP by packet type, STUN, DTLS) every 5 s, on stderr. */
const COUNT = process.env['SFU_BENCH_COUNT'] === '1';
const counts = new Map<string, number>();
const bytesBy = new Map<string, number>();
if (COUNT) {
  setInterval(() => {
    const rows = [...counts].map(([k, n]) => [k, `${n / 5}/s, ${Math.round(bytesBy.get(k)! / n)} B`]);
    console.error('server datagrams', JSON.stringify(Object.fromEntries(rows)));
    counts.clear();
    bytesBy.clear();
  }, 5000).unref();
}
function tally(k: string, bytes: number): void {
  counts.set(k, (counts.get(k) ?? 0) + 1);
  bytesBy.set(k, (bytesBy.get(k) ?? 0) + bytes);
}
/** The kind of a datagram the server sends, by its first two bytes (RFC 7983 demultiplexing). */
function kindOf(data: Buffer): string {
  const b0 = data[0]!;
  const b1 = data[1]!;
  if (b0 < 4) return 'stun';
  if (b0 >= 20 && b0 <= 63) return 'dtls';
  return b1 >= 192 && b1 <= 223 ? `rtcp${b1}` : 'rtp';
}

type Emit = (this: dgram.Socket, event: string | symbol, ...args: unknown[]) => boolean;
const proto = dgram.Socket.prototype as unknown as { emit: Emit };
const origEmit = proto.emit;
proto.emit = function (this: dgram.Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (COUNT && event === 'message') tally(`in ${kindOf(args[0] as Buffer)}`, (args[0] as Buffer).length);
  if (event !== 'message' || !isRtp(args[0] as Buffer)) return origEmit.call(this, event, ...args);
  rtpIn += 1;
  inAt = performance.now();
  const cpu0 = SLOW_MS > 0 ? process.cpuUsage() : null;
  const out0 = rtpOut;
  try {
    return origEmit.call(this, event, ...args);
  } finally {
    if (cpu0) noteDispatch(inAt, cpu0, rtpOut - out0, args[0] as Buffer);
    inAt = -1;
  }
};

/**
 * SFU_BENCH_SLOW=<ms>: dispatches of an RTP datagram that took longer than that, every 5 s on
 * stderr: how many, their wall and CPU time (CPU far below wall: the process was not running,
 * i.e. preempted), the copies they sent, and how many overlapped a GC pause; and up to three of
 * them: the incoming SSRC/sequence number and the first outgoing copies.
 */
const SLOW_MS = Number(process.env['SFU_BENCH_SLOW'] ?? 0);
const slow = { n: 0, wallMs: 0, cpuMs: 0, copies: 0, withGc: 0, all: 0, spans: [] as [number, number][] };
const gcSpans: [number, number][] = [];
const outs: string[] = [];
const shown: string[] = [];
function noteDispatch(at: number, cpu0: NodeJS.CpuUsage, copies: number, inp: Buffer): void {
  slow.all += 1;
  const end = performance.now();
  const o = outs.splice(0);
  if (end - at <= SLOW_MS) return;
  if (shown.length < 3) shown.push(`in ${inp.readUInt32BE(8).toString(16)}/${inp.readUInt16BE(2)} len ${inp.length} -> ${o.length} out, ssrcs ${new Set(o.map((x) => x.split('/')[0])).size}: ${o.slice(0, 6).join(' ')}`);
  const c = process.cpuUsage(cpu0);
  slow.n += 1;
  slow.wallMs += end - at;
  slow.cpuMs += (c.user + c.system) / 1000;
  slow.copies += copies;
  slow.spans.push([at, end]);
}
if (SLOW_MS > 0) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcSpans.push([e.startTime, e.startTime + e.duration]);
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    slow.withGc = slow.spans.filter(([a, b]) => gcSpans.some(([g0, g1]) => g0 < b && g1 > a)).length;
    const n = Math.max(1, slow.n);
    const r = (x: number) => Math.round(x * 100) / 100;
    for (const x of shown.splice(0)) console.error('  ', x);
    console.error(`slow dispatches (> ${SLOW_MS} ms): ${slow.n} of ${slow.all}, wall ${r(slow.wallMs / n)} ms, CPU ${r(slow.cpuMs / n)} ms, copies ${r(slow.copies / n)}, with GC ${slow.withGc}`);
    Object.assign(slow, { n: 0, wallMs: 0, cpuMs: 0, copies: 0, withGc: 0, all: 0, spans: [] });
    gcSpans.length = 0;
  }, 5000).unref();
}
// Sends are counted at the socket's libuv handle, which both dgram's `Socket.send` and the SFU's
// fast path (rtc/forward/UdpOut.ts) call: `send(req, list, count, port, ip, hasCallback)`.
type HandleSend = (this: unknown, req: unknown, list: Buffer[], ...rest: unknown[]) => number;
const udpProto = (process as unknown as { binding(n: string): { UDP: { prototype: { send: HandleSend } } } }).binding('udp_wrap').UDP.prototype;
const origSend = udpProto.send;
udpProto.send = function (this: unknown, req: unknown, list: Buffer[], ...rest: unknown[]): number {
  const data = list[0];
  if (COUNT && data) {
    const k = kindOf(data);
    tally(`out ${k}`, data.length);
  }
  if (list.length === 1 && data && isRtp(data)) {
    rtpOut += 1;
    if (SLOW_MS > 0 && inAt >= 0) outs.push(`${data.readUInt32BE(8).toString(16)}/${data.readUInt16BE(2)}`);
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
  return origSend.call(this, req, list, ...rest);
};

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

/**
 * Stalls: a 50 ms timer whose interval took over 210 ms (a 10 ms timer until session 14: its
 * `process.cpuUsage` call was 3.4 % of the server's busy time at 5 pps in 50×50). The process's
 * CPU time over the late interval tells the two causes apart: close to the wall time, the event loop was busy (our work,
 * GC); far below it, the process was not scheduled (a loaded machine). GC pauses are summed beside.
 */
const stalls = { n: 0, wallMs: 0, cpuMs: 0, maxMs: 0, gcMs: 0, gcMaxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    stalls.gcMs += e.duration;
    stalls.gcMaxMs = Math.max(stalls.gcMaxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
let tickAt = performance.now();
let tickCpu = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage();
  const wall = now - tickAt;
  if (wall > 210) {
    stalls.n += 1;
    stalls.wallMs += wall;
    stalls.cpuMs += (cpu.user - tickCpu.user + cpu.system - tickCpu.system) / 1000;
    stalls.maxMs = Math.max(stalls.maxMs, wall);
  }
  tickAt = now;
  tickCpu = cpu;
}, 50).unref();

const node = await ParleyNode.start(
  {
    port: 0,
    host: '127.0.0.1',
    tokenSecret: 'bench-secret',
    dataDir: mkdtempSync(join(tmpdir(), 'parley-sfu-bench-')),
    meetings: { hostAddresses: ['127.0.0.1'], iceInterfaces: { udp4: '127.0.0.1' }, candidatePairFilter: loopbackOnly, ipv6: false, maxParticipants: 1000, disconnectGraceMs: 60_000, lastN: Number(process.env['SFU_BENCH_LASTN'] ?? 9) },
  },
  { logger: pino({ level: process.env['SFU_BENCH_LOG'] ?? 'warn' }) },
);

/**
 * SFU_BENCH_HEAP=<file>: a sampling heap profile of everything allocated from the first step on,
 * collected or not (where the garbage comes from, not only what stays), written at the end; open
 * it in Chrome's DevTools (Memory) or summarize it by function. With SFU_BENCH_HEAP_LIVE=1, only
 * what is still alive at the end (what the old generation holds and major GCs mark).
 */
const HEAP_LIVE = process.env['SFU_BENCH_HEAP_LIVE'] === '1';
const HEAP_FILE = process.env['SFU_BENCH_HEAP'];
let heapSession: Session | null = null;
async function startHeapSampling(): Promise<void> {
  if (!HEAP_FILE || heapSession) return;
  heapSession = new Session();
  heapSession.connect();
  await heapSession.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: !HEAP_LIVE, includeObjectsCollectedByMinorGC: !HEAP_LIVE } as never);
}
async function writeHeapSampling(): Promise<void> {
  if (!HEAP_FILE || !heapSession) return;
  const { profile } = (await heapSession.post('HeapProfiler.stopSampling')) as { profile: unknown };
  writeFileSync(HEAP_FILE, JSON.stringify(profile));
}

process.on('message', (m: unknown) => {
  if (m === 'reset') {
    void startHeapSampling();
    nSamples = 0;
    seen = 0;
    loop.reset();
    Object.assign(stalls, { n: 0, wallMs: 0, cpuMs: 0, maxMs: 0, gcMs: 0, gcMaxMs: 0 });
    process.send?.({ t: 'reset' });
  } else if (m === 'stats') {
    process.send?.({
      t: 'stats',
      rtpIn,
      rtpOut,
      latency: Array.from(samples.subarray(0, nSamples)),
      loopP50: loop.percentile(50) / 1e6,
      loopP99: loop.percentile(99) / 1e6,
      stalls: { ...stalls },
      rooms: node.meetings?.rooms.stats(),
      // Set-up progress (SFU_BENCH_DEBUG): subscribing pcs connected, DownTracks bound and started.
      setup: (() => {
        let connected = 0;
        let forwarded = 0;
        let started = 0;
        /** Subscribing pcs by ICE state / DTLS state, to tell a slow ICE from a slow handshake. */
        const subStates: Record<string, number> = {};
        for (const r of node.meetings?.rooms.list() ?? []) {
          for (const p of r.participants()) {
            if (p.subscriber.peer.connected) connected += 1;
            const pc = p.subscriber.peer.pc;
            const key = `${pc.iceConnectionState}/${pc.dtlsTransports.map((d) => d.state).join(',')}`;
            subStates[key] = (subStates[key] ?? 0) + 1;
            if (process.env['SFU_BENCH_DEBUG_ICE'] && key.endsWith('/new') && !key.startsWith('new')) {
              const conn = (pc.iceTransports[0] as unknown as { connection: { checkList: { state: number; localCandidate: { host: string; port: number; type: string; transport: string }; remoteCandidate: { host: string; port: number; type: string; transport: string } }[]; remoteCandidatesEnd: boolean; checkListDone: boolean } }).connection;
              const c2 = conn as unknown as { state: string; nominated?: unknown; remoteCandidates: unknown[]; localCandidatesEnd: boolean; localCandidatesStart: boolean; iceControlling: boolean; remoteUsername?: string };
              process.stderr.write(`ice ${key}: transports ${pc.iceTransports.length} conn ${c2.state} nominated ${!!c2.nominated} remote ${c2.remoteCandidates.length} localEnd ${c2.localCandidatesEnd} localStart ${c2.localCandidatesStart} controlling ${c2.iceControlling} remoteUser ${!!c2.remoteUsername} end ${conn.remoteCandidatesEnd} done ${conn.checkListDone} ${conn.checkList.map((c) => `${c.localCandidate.transport} ${c.localCandidate.host}:${c.localCandidate.port} ${c.localCandidate.type} -> ${c.remoteCandidate.host}:${c.remoteCandidate.port} ${c.remoteCandidate.type} state ${c.state}`).join(' | ')}\n`);
            }
            for (const d of p.subscriber.downTracks()) {
              if (d.forwarded) forwarded += 1;
              if (d.isStarted) started += 1;
            }
          }
        }
        return { subConnected: connected, forwarded, started, subStates };
      })(),
    });
  }
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await writeHeapSampling().catch((err: unknown) => console.error('heap profile not written', err));
  await node.stop().catch(() => {});
  process.exit(0); // writes the --cpu-prof profile
}
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
process.send?.({ t: 'ready', url: node.url, pid: process.pid });
