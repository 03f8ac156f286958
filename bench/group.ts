/**
 * `npm run bench -- group [--members N] [--interval T] [--seconds S] [--senders K]
 *   [--targets parley,parley-pg,socketio,ws] [--generators G] [--grace MS] [--warmup S] [--plot FILE]`
 * (`--warmup S`: S seconds of messages at the same pace first, left out of every figure.)
 *
 * One group of N members, all online (distinct users, one connection each, spread over G load
 * processes plus one process holding the K rotating senders). Every T ms one member sends a
 * message to the group; every other member records send → delivery latency. Reported per target:
 * the per-message LAST-member latency (the message's slowest delivery, counted only for messages
 * every other member received) and all deliveries, as p50 / p99 / max; server CPU per message.
 * Parley: one embedded SQLite node (parley-pg: a node on PostgreSQL + Redis), every message durably committed, members acking cumulatively
 * on the SDK's schedule (bench/lib/acker.ts: 50 ms after an event, at most one per 250 ms), which is what advances the receipts. A message that some member did not
 * get within the grace time counts as infinitely late for the last-member percentiles. Peers: Socket.IO room broadcast and
 * a bare ws broadcast loop, in memory. Then Parley's figures as ratios to both, and a plot.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Target } from './lib/drivers.ts';
import type { GroupLoadResult, GroupSetup } from './lib/group-loadgen.ts';
import { startGroupTarget, type GroupTarget } from './lib/group-targets.ts';
import { writeChart } from './lib/plot.ts';
import { summarize, table } from './lib/stats.ts';
import { backingCpuMs } from './lib/pg-target.ts';
import { cpuMs } from './lib/targets.ts';

export interface GroupOptions {
  members: number;
  intervalMs: number;
  seconds: number;
  senders: number;
  generators: number;
  graceMs: number;
  /** Seconds of messages sent first and left out of every figure (JIT, runs opening, first acks). */
  warmupSeconds: number;
}

export interface GroupRow {
  target: Target;
  members: number;
  messages: number;
  acked: number;
  /** Messages that reached every other member. */
  complete: number;
  deliveries: number;
  expected: number;
  last: { p50: number; p99: number; max: number };
  all: { p50: number; p99: number; max: number };
  cpuPerMsg: number;
  /** PostgreSQL + Redis processes' CPU per message (parley-pg's durable writes). */
  backingPerMsg: number;
  /** CPU of all load processes per message: the clients' share of the machine. */
  loadCpuPerMsg: number;
  setupSeconds: number;
}

interface Gen {
  child: ChildProcess;
  next: Promise<Record<string, unknown>>;
}

function spawnGen(): Gen {
  const child = fork(new URL('./lib/group-loadgen.ts', import.meta.url), {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const gen: Gen = { child, next: Promise.resolve({}) };
  return gen;
}

/** The next IPC message of a generator, rejecting on 'error' or exit. */
function nextMessage(gen: Gen): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`group load generator exited with ${code}`));
    gen.child.once('exit', onExit);
    gen.child.once('message', (m: Record<string, unknown>) => {
      gen.child.off('exit', onExit);
      if (m['kind'] === 'error') reject(new Error(String(m['error'])));
      else resolve(m);
    });
  });
}

export async function runGroupTarget(target: Target, port: number, o: GroupOptions): Promise<GroupRow> {
  const t0 = Date.now();
  const t: GroupTarget = await startGroupTarget(target, port, o.members);
  const gens: Gen[] = [];
  try {
    const messages = Math.max(1, Math.floor((o.seconds * 1000) / o.intervalMs));
    // Warm-up messages go first, numbered 0 .. warm-1; the measured ones are warm .. warm+messages-1.
    const warm = Math.floor((o.warmupSeconds * 1000) / o.intervalMs);
    const total = warm + messages;
    const senders = Array.from({ length: Math.min(o.senders, o.members) }, (_, i) => i);
    const shares: GroupSetup['members'][] = [t.members.slice(0, senders.length)];
    const rest = t.members.slice(senders.length);
    for (let g = 0; g < o.generators; g++) shares.push(rest.filter((_, i) => i % o.generators === g));
    const base = { target, url: t.url, group: t.group, senders, messages: total, intervalMs: o.intervalMs, graceMs: o.graceMs, warmup: warm, concurrency: 50 };
    for (const share of shares.filter((s) => s.length > 0)) {
      const gen = spawnGen();
      gens.push(gen);
      gen.next = nextMessage(gen);
      gen.child.send({ kind: 'setup', ...base, members: share });
    }
    await Promise.all(gens.map((g) => g.next));
    const setupSeconds = (Date.now() - t0) / 1000;
    // Let connection-time catch-up (membership events, their acks) settle before measuring.
    await new Promise((r) => setTimeout(r, 1000));
    const startAt = performance.timeOrigin + performance.now() + 500;
    // Server CPU counts from the first measured message on (the grace time after the last is in it).
    let cpu0 = cpuMs(t.pid);
    let backing0 = backingCpuMs();
    const mark = setTimeout(() => ((cpu0 = cpuMs(t.pid)), (backing0 = backingCpuMs())), startAt + warm * o.intervalMs - (performance.timeOrigin + performance.now()));
    for (const g of gens) {
      g.next = nextMessage(g);
      g.child.send({ kind: 'go', startAt });
    }
    const results = (await Promise.all(gens.map((g) => g.next))) as unknown as GroupLoadResult[];
    clearTimeout(mark);
    const cpu = cpuMs(t.pid) - cpu0;
    const backing = backingCpuMs() - backing0;
    const perCount = new Uint32Array(messages);
    const perMax = new Float64Array(messages).fill(NaN);
    for (const r of results) {
      for (let k = 0; k < messages; k++) {
        const j = warm + k;
        perCount[k]! += r.perMsgCount[j]!;
        if (!(perMax[k]! >= r.perMsgMax[j]!)) perMax[k] = r.perMsgMax[j]!;
      }
    }
    const receivers = o.members - 1;
    const lastSamples: number[] = [];
    // A message some member never got (within the grace time) has no last-member latency: it
    // counts as infinite, so a p99 with more than 1 % of messages incomplete shows as "-".
    for (let k = 0; k < messages; k++) lastSamples.push(perCount[k] === receivers ? perMax[k]! : Infinity);
    const all: number[] = [];
    for (const r of results) for (const l of r.latencies) all.push(l);
    const last = summarize(lastSamples);
    const every = summarize(all);
    return {
      target,
      members: o.members,
      // Sends and acks of the measured messages (the warm-up's are left out, all of them counted).
      messages: results.reduce((a, r) => a + r.sent, 0) - warm,
      acked: results.reduce((a, r) => a + r.acked, 0) - warm,
      complete: lastSamples.filter(Number.isFinite).length,
      deliveries: all.length,
      expected: messages * receivers,
      last: { p50: last.p50, p99: last.p99, max: last.max },
      all: { p50: every.p50, p99: every.p99, max: every.max },
      cpuPerMsg: cpu / messages,
      backingPerMsg: backing / messages,
      // The load processes' CPU is measured from 'go', warm-up included: per message of all sent.
      loadCpuPerMsg: results.reduce((a, r) => a + r.cpuMs, 0) / total,
      setupSeconds,
    };
  } finally {
    for (const g of gens) if (g.child.exitCode === null) g.child.kill('SIGTERM');
    await t.stop();
  }
}

export function groupTable(rows: GroupRow[]): string {
  return table(
    ['target', 'members', 'msgs sent', 'acked', 'complete msgs', 'deliveries / expected', 'last p50 ms', 'last p99 ms', 'last max ms', 'all p50 ms', 'all p99 ms', 'all max ms', 'server CPU ms / msg', 'PostgreSQL + Redis CPU ms / msg', 'clients CPU ms / msg'],
    rows.map((r) => [r.target, r.members, r.messages, r.acked, r.complete, `${r.deliveries} / ${r.expected}`, r.last.p50, r.last.p99, r.last.max, r.all.p50, r.all.p99, r.all.max, r.cpuPerMsg, r.backingPerMsg, r.loadCpuPerMsg]),
  );
}

/**
 * The first Parley row's last-member p99 and CPU per message as multiples of each other row's
 * (`own` picks another Parley row, e.g. parley-pg).
 */
export function groupRatios(rows: GroupRow[], own = rows.find((r) => r.target.startsWith('parley'))?.target): string[] {
  const p = rows.find((r) => r.target === own);
  if (!p) return [];
  return rows
    .filter((r) => r !== p)
    .map((r) => `${r.target}: last-member p99 ${ratio(p.last.p99, r.last.p99)}, all-deliveries p99 ${ratio(p.all.p99, r.all.p99)}, server CPU per message ${ratio(p.cpuPerMsg, r.cpuPerMsg)}`);
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(1)}×` : 'n/a (incomplete)';
}

/** Latency percentiles per target: last member solid, all deliveries dashed. */
export function writeGroupPlot(path: string, title: string, subtitle: string, rows: GroupRow[], targetMs?: number): void {
  const ticks = [
    { value: 0, label: 'p50' },
    { value: 1, label: 'p99' },
    { value: 2, label: 'max' },
  ];
  writeChart(path, {
    title,
    subtitle,
    x: { label: 'percentile', ticks, min: -0.2, max: 2.2 },
    y: { label: 'send → delivery latency (ms)', scale: 'log' },
    series: rows.flatMap((r, i) => [
      { name: `${r.target} last member`, points: [[0, r.last.p50], [1, r.last.p99], [2, r.last.max]] as [number, number][], color: palette(i) },
      { name: `${r.target} all deliveries`, points: [[0, r.all.p50], [1, r.all.p99], [2, r.all.max]] as [number, number][], color: palette(i), dashed: true },
    ]).concat(targetMs ? [{ name: `target ${targetMs} ms`, points: [[-0.2, targetMs], [2.2, targetMs]], color: '#999', dashed: true }] : []),
  });
}

function palette(i: number): string {
  return ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'][i % 5]!;
}

/** The targets: last-member p99 ≤ 50 ms for 1,024 members at 50 ms; ≤ 1 s for a 10,000-member channel. */
function targetFor(o: GroupOptions): number | undefined {
  if (o.members === 1024 && o.intervalMs === 50) return 50;
  if (o.members >= 10_000) return 1000;
  return undefined;
}

export function groupOptions(values: Record<string, string | undefined>): GroupOptions {
  const members = Number(values['members'] ?? 1024);
  return {
    members,
    intervalMs: Number(values['interval'] ?? 50),
    seconds: Number(values['seconds'] ?? 10),
    senders: Number(values['senders'] ?? 1),
    // ≤ ~8k members per process keeps each well under the 20k open-file limit on every transport.
    generators: Number(values['generators'] ?? Math.max(2, Math.ceil(members / 8000))),
    // Time after the last send for stragglers; a 10,000-member fan-out needs longer to drain.
    graceMs: Number(values['grace'] ?? 5000 + members),
    warmupSeconds: Number(values['warmup'] ?? 0),
  };
}

export async function run(argv: string[]): Promise<GroupRow[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: 'string', default: 'parley,socketio,ws' },
      members: { type: 'string' },
      interval: { type: 'string' },
      seconds: { type: 'string' },
      senders: { type: 'string' },
      generators: { type: 'string' },
      grace: { type: 'string' },
      warmup: { type: 'string' },
      port: { type: 'string', default: '18300' },
      plot: { type: 'string' },
    },
  });
  const o = groupOptions(values);
  const load0 = loadavg()[0]!;
  const rows: GroupRow[] = [];
  let port = Number(values.port);
  for (const target of values.targets.split(',') as Target[]) {
    const row = await runGroupTarget(target, port++, o);
    rows.push(row);
    console.error(`[group] ${target}: ${row.complete}/${row.messages} complete, last-member p99 ${row.last.p99.toFixed(1)} ms (setup ${row.setupSeconds.toFixed(0)} s)`);
  }
  const load1 = loadavg()[0]!;
  const warm = o.warmupSeconds > 0 ? ` after ${o.warmupSeconds} s of warm-up` : '';
  const head = `group: ${o.members} members, one message every ${o.intervalMs} ms for ${o.seconds} s${warm}, ${o.senders} sender(s), ${o.generators}+1 load processes`;
  console.log(`\n### ${head} (load average ${load0.toFixed(2)} → ${load1.toFixed(2)})\n`);
  console.log(groupTable(rows));
  for (const own of new Set(rows.filter((r) => r.target.startsWith('parley')).map((r) => r.target))) {
    const ratios = groupRatios(rows.filter((r) => r.target === own || !r.target.startsWith('parley')), own);
    if (ratios.length) console.log(`\n${own} as multiples of: ${ratios.join('; ')}`);
  }
  const path = values.plot ?? `docs/benchmarks/group-${o.members}.svg`;
  writeGroupPlot(path, `group: ${o.members} members, a message every ${o.intervalMs} ms`, `npm run bench -- group ${argv.join(' ')} · load avg ${load0.toFixed(1)}`, rows, targetFor(o));
  console.log(`\nplot: ${path}`);
  return rows;
}
