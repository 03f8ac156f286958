/**
 * `npm run bench:sfu -- [--shapes 1x50,10x10,50x50] [--seconds 5] [--bots 2] [--sample 8]
 *   [--payload 1000] [--rates 1x50=100,200:10x10=25,50] [--lastn 9] [--no-relay] [--relay-only]
 *   [--profile DIR] [--pin]`
 *
 * For each room shape P×S (P publishers of one video track each, S receive-only participants;
 * publishers also receive each other, as in any room; with last-N (`--lastn`, the server's
 * meetings.lastN, default 9 as in the product) each participant receives at most N videos, so a
 * shape forwards P·min(P−1, N) + S·min(P, N) streams):
 * a Parley node in its own process (bench/sfu/server.ts), werift bots in `--bots` processes
 * (bench/sfu/bots.ts), the per-publisher packet rate stepped up until the SFU saturates (it
 * delivers < 90 % of what it should, or uses a whole core). Then the same for a bare UDP relay
 * (bench/sfu/relay.ts) with a 1×50 fan-out, the ceiling of a Node data plane.
 *
 * Figures per step: forwarded RTP packets/s (counted at the server's sockets), server CPU (from
 * /proc/<pid>/stat), packets/s per core (= packets/s ÷ CPU share), CPU per forwarded stream,
 * processing latency inside the server (see server.ts), end-to-end latency publisher → subscriber
 * (payload stamps), the server's event-loop delay, and the load average of the machine.
 *
 * Environment: SFU_BENCH_DEBUG=1 prints the set-up progress each second while warming up;
 * SFU_BENCH_COUNT=1 the datagrams the server receives and sends per second by kind (RTP, RTCP type, STUN, DTLS);
 * SFU_BENCH_SLOW=<ms> the server's RTP dispatches slower than that (wall, CPU, copies, GC overlap);
 * SFU_BENCH_SERVER_ARGS="<node flags>" extra flags for the server's node (e.g. --trace-gc);
 * SFU_BENCH_LOG=info the server's log; SFU_BENCH_SERIAL=1 makes each bot worker wait for a
 * publisher's pc to connect before its next join (by default the 4 workers per bot process join
 * without waiting).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Results, Tokens } from '@parley/protocol';
import { command, registerUser } from '../lib/server.ts';
import { summarize, table } from '../lib/stats.ts';
import type { BotPlan } from './bots.ts';
import { cpuSeconds, loadAverage } from './rtp.ts';

interface Args {
  shapes: [number, number][];
  seconds: number;
  bots: number;
  sample: number;
  payload: number;
  rates: Map<string, number[]>;
  relay: boolean;
  sfu: boolean;
  profile: string | null;
  lastN: number;
  pin: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rates = new Map<string, number[]>([
    ['1x50', [100, 200, 400, 800, 1600]],
    ['10x10', [20, 50, 100, 200, 400, 800]],
    // Up to saturation: 20 packets/s per publisher (18,000 forwarded/s) did not saturate the SFU on
    // a quiet machine, and a camera's low layer sends 20-50 packets/s.
    ['50x50', [5, 10, 20, 40, 80]],
  ]);
  for (const part of (get('rates') ?? '').split(':').filter(Boolean)) {
    const [shape, list] = part.split('=');
    rates.set(shape!, list!.split(',').map(Number));
  }
  return {
    shapes: (get('shapes') ?? '1x50,10x10,50x50').split(',').map((s) => s.split('x').map(Number) as [number, number]),
    seconds: Number(get('seconds') ?? 5),
    bots: Number(get('bots') ?? 2),
    sample: Number(get('sample') ?? 8),
    payload: Number(get('payload') ?? 1000),
    rates,
    relay: !argv.includes('--no-relay'),
    sfu: !argv.includes('--relay-only'),
    profile: get('profile') ?? null,
    lastN: Number(get('lastn') ?? 9),
    pin: argv.includes('--pin'),
  };
}

/**
 * `--pin`: the server (or relay) on CPU 0 with all its threads, the load (bots, UDP load, this
 * process) on the other CPUs, so that the server has a core of its own as it would in production
 * (clients elsewhere) and the figures do not depend on how the scheduler happened to place the
 * processes in a run. Needs at least 2 CPUs.
 */
function pin(pid: number, role: 'server' | 'load'): void {
  const n = cpus().length;
  if (n < 2) throw new Error('--pin needs at least 2 CPUs');
  const list = role === 'server' ? '0' : `1-${n - 1}`;
  execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' });
}

/** A forked child with request/response over IPC by message type. */
class Child {
  private readonly waiters: { t: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: Record<string, unknown>) => {
      const i = this.waiters.findIndex((w) => w.t === m['t']);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
  }
  static fork(file: string, execArgv: string[] = []): Child {
    const child = new Child(fork(new URL(file, import.meta.url).pathname, [], { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    // A child that dies mid-run makes the whole bench fail at once instead of waiting out a timeout.
    child.proc.on('exit', (code) => {
      if (code !== 0 && code !== null && !child.stopping) {
        process.stderr.write(`${file} exited with ${code}\n`);
        process.exit(1);
      }
    });
    return child;
  }
  stopping = false;
  wait<T = Record<string, unknown>>(t: string, timeoutMs = 120_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${t}`)), timeoutMs);
      this.waiters.push({
        t,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      });
    });
  }
  ask<T = Record<string, unknown>>(msg: object | string, reply: string, timeoutMs?: number): Promise<T> {
    const p = this.wait<T>(reply, timeoutMs);
    this.proc.send(msg);
    return p;
  }
  stop(): Promise<void> {
    this.stopping = true;
    if (this.proc.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGTERM');
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 0) => (Number.isFinite(n) ? Number(n.toFixed(d)) : NaN);

interface Row {
  shape: string;
  rate: number;
  streams: number;
  offered: number;
  forwarded: number;
  delivered: number;
  cpu: number;
  perCore: number;
  cpuPerStream: number;
  inP50: number;
  inP99: number;
  e2eP50: number;
  e2eP99: number;
  loopP99: number;
  load: string;
}

async function runShape(args: Args, pubs: number, subs: number): Promise<Row[]> {
  const shape = `${pubs}x${subs}`;
  process.env['SFU_BENCH_LASTN'] = String(args.lastN);
  const serverArgs = (process.env['SFU_BENCH_SERVER_ARGS'] ?? '').split(' ').filter(Boolean);
  const server = Child.fork('./server.ts', [...serverArgs, ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [])]);
  const { url, pid } = await server.wait<{ url: string; pid: number }>('ready');
  if (args.pin) pin(pid, 'server');
  const n = pubs + subs;
  const tokens: Tokens[] = [];
  const tag = Math.random().toString(36).slice(2, 7);
  for (let i = 0; i < n; i++) tokens.push(await registerUser(url, `b${tag}_${i}`));
  const group = await command<Results['conv.group']>(url, tokens[0]!.access, { t: 'conv.group', name: `sfu ${shape}`, members: tokens.slice(1).map((t) => t.user) });
  const conv = group.conversation.id;
  const bots = Array.from({ length: args.bots }, () => Child.fork('./bots.ts'));
  if (args.pin) for (const b of bots) pin(b.proc.pid!, 'load');
  const plans: BotPlan[] = bots.map(() => ({ url, conv, participants: [], sampleEvery: args.sample, payloadBytes: args.payload }));
  tokens.forEach((t, i) => plans[i % bots.length]!.participants.push({ tokens: t, publish: i < pubs, index: i }));
  const t0 = performance.now();
  await Promise.all(bots.map((b, i) => b.ask({ t: 'start', plan: plans[i] }, 'joined', 600_000)));
  process.stdout.write(`  ${shape}: ${n} participants joined in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  // Last-N: each participant receives the video of at most N others.
  const streams = pubs * Math.min(pubs - 1, args.lastN) + subs * Math.min(pubs, args.lastN);
  // Warm up at a low rate until the bots receive (nearly) every forwarded stream: at most the first
  // step's rate (20 packets/s per publisher in 50×50 is 18000 forwarded/s, more than the server
  // can do on a shared machine, and a warm-up that saturates never ends).
  const warm = Math.min(20, ...(args.rates.get(shape) ?? [20]));
  await Promise.all(bots.map((b) => b.ask({ t: 'rate', rate: warm }, 'rate')));
  const deadline = performance.now() + 180_000;
  let before = await Promise.all(bots.map((b) => b.ask<{ rtpIn: number }>('stats', 'stats')));
  for (;;) {
    await sleep(1000);
    const now = await Promise.all(bots.map((b) => b.ask<{ rtpIn: number }>('stats', 'stats')));
    const got = now.reduce((a, s, i) => a + s.rtpIn - before[i]!.rtpIn, 0);
    before = now;
    if (got >= 0.95 * warm * streams) break;
    if (process.env['SFU_BENCH_DEBUG']) {
      const st = await server.ask<{ rtpIn: number; rtpOut: number; loopP99: number; rooms: unknown; setup: unknown }>('stats', 'stats');
      process.stdout.write(`  ${shape} warming ${((performance.now() - t0) / 1000).toFixed(0)} s: bots got ${got}/s of ${warm * streams}/s; server rtp in ${st.rtpIn} out ${st.rtpOut}, cpu ${cpuSeconds(pid).toFixed(1)} s, loop p99 ${st.loopP99.toFixed(0)} ms; ${JSON.stringify(st.rooms)} ${JSON.stringify(st.setup)}; load ${loadAverage()}\n`);
    }
    if (performance.now() > deadline) {
      process.stdout.write(`  ${shape}: receiving ${got}/s of ${warm * streams}/s after 180 s; measuring anyway\n`);
      break;
    }
  }
  process.stdout.write(`  ${shape}: ${n} participants, ${streams} forwarded streams, set up in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const rows: Row[] = [];
  for (const rate of args.rates.get(shape) ?? [50, 100, 200, 400]) {
    await Promise.all(bots.map((b) => b.ask({ t: 'rate', rate }, 'rate')));
    await sleep(2000);
    await Promise.all(bots.map((b) => b.ask('stats', 'stats')));
    await server.ask('reset', 'reset');
    const s0 = await server.ask<{ rtpOut: number }>('stats', 'stats');
    const b0 = await Promise.all(bots.map((b) => b.ask<{ rtpIn: number; at: number }>('stats', 'stats')));
    const c0 = cpuSeconds(pid);
    const w0 = performance.now();
    await sleep(args.seconds * 1000);
    const c1 = cpuSeconds(pid);
    const w1 = performance.now();
    const s1 = await server.ask<{ rtpOut: number; latency: number[]; loopP99: number }>('stats', 'stats');
    const b1 = await Promise.all(bots.map((b) => b.ask<{ rtpIn: number; at: number; latency: number[] }>('stats', 'stats')));
    const secs = (w1 - w0) / 1000;
    const cpu = (c1 - c0) / secs;
    const forwarded = (s1.rtpOut - s0.rtpOut) / secs;
    // Each bot's count over its own clock: a busy bot answers 'stats' late, and the server's window
    // would then stretch or shrink its count (delivered above forwarded at saturation).
    const delivered = b1.reduce((a, b, i) => a + (b.rtpIn - b0[i]!.rtpIn) / Math.max(0.001, (b.at - b0[i]!.at) / 1000), 0);
    const inLat = summarize(s1.latency);
    const e2e = summarize(b1.flatMap((b) => b.latency));
    const row: Row = {
      shape,
      rate,
      streams,
      offered: rate * streams,
      forwarded: round(forwarded),
      delivered: round(delivered),
      cpu: round(cpu * 100),
      perCore: round(forwarded / Math.max(cpu, 0.01)),
      cpuPerStream: round((cpu * 1e6) / streams / 1000, 2),
      inP50: round(inLat.p50, 2),
      inP99: round(inLat.p99, 2),
      e2eP50: round(e2e.p50, 1),
      e2eP99: round(e2e.p99, 1),
      loopP99: round(s1.loopP99, 1),
      load: loadAverage(),
    };
    rows.push(row);
    process.stdout.write(`  ${shape} @ ${rate} pps/publisher: ${JSON.stringify(row)}\n`);
    if (process.env['SFU_BENCH_DEBUG']) {
      const st = await server.ask<{ rooms: unknown; setup: unknown; stalls: { n: number; wallMs: number; cpuMs: number; maxMs: number; gcMs: number; gcMaxMs: number } }>('stats', 'stats');
      const heard = b1.map((b) => (b as unknown as { sources: number[] }).sources);
      const flowing = b1.reduce((a, b) => a + ((b as unknown as { streams: number }).streams ?? 0), 0);
      const { n, wallMs, cpuMs, maxMs, gcMs, gcMaxMs } = st.stalls;
      process.stdout.write(`  ${shape} after the step: ${JSON.stringify(st.rooms)} ${JSON.stringify(st.setup)}; streams that delivered packets to the bots in the window: ${flowing} of ${streams}; publishers heard per bot participant (sampled packets, since the start): min ${Math.min(...heard.flat())} max ${Math.max(...heard.flat())}; event-loop stalls > 200 ms: ${n}, ${wallMs.toFixed(0)} ms wall, max ${maxMs.toFixed(0)} ms, server CPU during them ${cpuMs.toFixed(0)} ms; GC ${gcMs.toFixed(0)} ms, longest pause ${gcMaxMs.toFixed(0)} ms\n`);
    }
    if (delivered < 0.9 * row.offered || cpu > 0.95) break; // saturated
  }
  await Promise.all(bots.map((b) => b.ask({ t: 'stop' }, 'never', 5000).catch(() => {})));
  await Promise.all(bots.map((b) => b.stop()));
  await server.stop();
  return rows;
}

interface RelayRow {
  rate: number;
  offered: number;
  forwarded: number;
  delivered: number;
  cpu: number;
  perCore: number;
  e2eP50: number;
  e2eP99: number;
  load: string;
}

async function runRelay(args: Args, fanout = 50): Promise<RelayRow[]> {
  const relay = Child.fork('./relay.ts');
  await relay.wait('up');
  const load = Child.fork('./udpload.ts');
  const { ports } = await load.ask<{ ports: number[] }>({ t: 'init', fanout, payloadBytes: args.payload }, 'ports');
  const { port, pid } = await relay.ask<{ port: number; pid: number }>({ t: 'dests', ports }, 'ready');
  if (args.pin) {
    pin(pid, 'server');
    pin(load.proc.pid!, 'load');
  }
  await load.ask({ t: 'target', port }, 'target');
  const rows: RelayRow[] = [];
  for (const rate of [500, 1000, 2000, 4000, 8000, 16_000]) {
    await load.ask({ t: 'rate', rate }, 'rate');
    await sleep(1500);
    await load.ask('stats', 'stats');
    const r0 = await relay.ask<{ sent: number }>('stats', 'stats');
    const l0 = await load.ask<{ received: number }>('stats', 'stats');
    const c0 = cpuSeconds(pid);
    const w0 = performance.now();
    await sleep(args.seconds * 1000);
    const c1 = cpuSeconds(pid);
    const secs = (performance.now() - w0) / 1000;
    const r1 = await relay.ask<{ sent: number }>('stats', 'stats');
    const l1 = await load.ask<{ received: number; latency: number[] }>('stats', 'stats');
    const cpu = (c1 - c0) / secs;
    const forwarded = (r1.sent - r0.sent) / secs;
    const e2e = summarize(l1.latency);
    const row = {
      rate,
      offered: rate * fanout,
      forwarded: round(forwarded),
      delivered: round((l1.received - l0.received) / secs),
      cpu: round(cpu * 100),
      perCore: round(forwarded / Math.max(cpu, 0.01)),
      e2eP50: round(e2e.p50, 2),
      e2eP99: round(e2e.p99, 2),
      load: loadAverage(),
    };
    rows.push(row);
    process.stdout.write(`  relay 1x${fanout} @ ${rate} pps: ${JSON.stringify(row)}\n`);
    if (row.delivered < 0.9 * row.offered || cpu > 0.95) break;
  }
  await load.stop();
  await relay.stop();
  return rows;
}

const args = parseArgs(process.argv.slice(2));
if (args.pin) pin(process.pid, 'load');
process.stdout.write(`SFU bench, load average at start: ${loadAverage()}${args.pin ? '; --pin: server on CPU 0, load on the others' : ''}\n`);
const relayRows = args.relay ? await runRelay(args) : [];
const sfuRows: Row[] = [];
if (args.sfu) for (const [p, s] of args.shapes) sfuRows.push(...(await runShape(args, p, s)));

if (relayRows.length > 0) {
  process.stdout.write('\nBare UDP relay (1×50 fan-out, no WebRTC)\n\n');
  process.stdout.write(table(['pps in', 'offered out/s', 'forwarded/s', 'delivered/s', 'relay CPU %', 'forwarded/s per core', 'e2e p50 ms', 'e2e p99 ms', 'load avg'], relayRows.map((r) => [r.rate, r.offered, r.forwarded, r.delivered, r.cpu, r.perCore, r.e2eP50, r.e2eP99, r.load])) + '\n');
}
if (sfuRows.length > 0) {
  const ceiling = Math.max(0, ...relayRows.map((r) => r.perCore));
  process.stdout.write('\nSFU (werift) forwarding\n\n');
  process.stdout.write(
    table(
      ['shape', 'pps/publisher', 'streams', 'offered/s', 'forwarded/s', 'delivered/s', 'server CPU %', 'per core', 'vs relay', 'CPU µs/packet', 'CPU ms/s per stream', 'in→out p50 ms', 'in→out p99 ms', 'e2e p50 ms', 'e2e p99 ms', 'loop p99 ms', 'load avg'],
      sfuRows.map((r) => [r.shape, r.rate, r.streams, r.offered, r.forwarded, r.delivered, r.cpu, r.perCore, ceiling > 0 ? `${((100 * r.perCore) / ceiling).toFixed(1)} %` : '-', round(1e6 / r.perCore, 1), r.cpuPerStream, r.inP50, r.inP99, r.e2eP50, r.e2eP99, r.loopP99, r.load]),
    ) + '\n',
  );
}
process.exit(0);
