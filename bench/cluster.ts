/**
 * Multi-node load: `npm run bench -- cluster --nodes 1,2,3 [--pairs P] [--seconds S] [--window W]
 *   [--rate R] [--generators G] [--idle K]` (until run.ts lists it: `node --import tsx bench/cluster.ts ...`).
 *
 * For each node count N: N Parley node processes on one PostgreSQL (a fresh schema) and one Redis (a
 * fresh prefix), P user pairs whose sender is on node i mod N and receiver on node i+1 mod N (so with
 * N > 1 every message crosses nodes through Redis), load from G generator processes (closed loop,
 * W sends in flight per sender, or R msgs/s per sender). Reports messages stored (acknowledged) and
 * delivered per second, send->deliver p50/p99, node CPU, and from the nodes' /metrics the group
 * commits per second and their mean size and latency. With --idle K, also K idle WebSocket sessions
 * on one node and the node's resident memory per session.
 *
 * Everything runs on one machine: generators, nodes, PostgreSQL and Redis share its cores, so the
 * figures are per-machine, not per-node, once N exceeds the core count. See docs/scaling.md.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { command, registerUser, startParley, type ServerProcess } from './lib/server.ts';
import { summarize, table } from './lib/stats.ts';
import { cpuMs, rssBytes } from './lib/targets.ts';
import { BENCH_PG, BENCH_REDIS, namespace, scrape } from './cluster/backing.ts';
import type { Pair } from './lib/drivers.ts';
import { runLoad } from './direct.ts';

interface Row {
  nodes: number;
  stored: number;
  delivered: number;
  p50: number;
  p99: number;
  errors: number;
  cpu: number;
  cpuPer1k: number;
  commits: number;
  batch: number;
  commitMs: number;
}

async function inBatches<T>(n: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => fn(i + j)))));
  return out;
}

/** Opens K idle sessions on one node; resident memory per session from the node's RSS. */
async function idleSessions(node: ServerProcess, tokens: string[], k: number): Promise<{ opened: number; bytesPerSession: number }> {
  const pid = node.child.pid!;
  const before = rssBytes(pid);
  const sockets = await inBatches(k, 100, (i) =>
    new Promise<WebSocket | null>((resolve) => {
      const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/v1/ws?token=${tokens[i % tokens.length]}`, { perMessageDeflate: false });
      ws.once('message', () => resolve(ws));
      ws.once('error', () => resolve(null));
    }),
  );
  await new Promise((r) => setTimeout(r, 1500));
  const opened = sockets.filter((s) => s !== null).length;
  const after = rssBytes(pid);
  for (const s of sockets) s?.terminate();
  return { opened, bytesPerSession: (after - before) / Math.max(1, opened) };
}

async function runFor(n: number, o: { pairs: number; seconds: number; window: number; rate?: number; generators: number; idle: number }): Promise<Row> {
  const ns = await namespace();
  const basePort = 19100 + n * 10;
  const env = { PARLEY_DATABASE_URL: BENCH_PG, PARLEY_DATABASE_SCHEMA: ns.schema, PARLEY_REDIS_URL: BENCH_REDIS, PARLEY_REDIS_PREFIX: ns.prefix, PARLEY_TOKEN_SECRET: 'bench' };
  const nodes: ServerProcess[] = [];
  try {
    nodes.push(await startParley(basePort, { ...env, PARLEY_NODE_ID: 'b0' }));
    for (let i = 1; i < n; i++) nodes.push(await startParley(basePort + i, { ...env, PARLEY_NODE_ID: `b${i}` }));
    const url0 = nodes[0]!.url;
    const tag = Math.random().toString(36).slice(2, 7);
    const users = await inBatches(2 * o.pairs, 25, (i) => registerUser(url0, `c${tag}_${i}`));
    const pairs = await inBatches(o.pairs, 25, async (i): Promise<Pair> => {
      const a = users[2 * i]!;
      const b = users[2 * i + 1]!;
      const conv = await command<{ conversation: { id: string } }>(url0, a.access, { t: 'conv.direct', user: b.handle });
      return { sender: a.access, receiver: b.access, to: conv.conversation.id, senderUrl: nodes[i % n]!.url, receiverUrl: nodes[(i + 1) % n]!.url };
    });
    const commitCount = () => Promise.all(nodes.map((x) => scrape(x.url, 'parley_store_seconds_count', { method: 'appendMessages' })));
    const commitSum = () => Promise.all(nodes.map((x) => scrape(x.url, 'parley_store_seconds_sum', { method: 'appendMessages' })));
    const batchSum = () => Promise.all(nodes.map((x) => scrape(x.url, 'parley_store_batch_size_sum', { method: 'appendMessages' })));
    const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const [c0, s0, b0] = [total(await commitCount()), total(await commitSum()), total(await batchSum())];
    const cpu0 = nodes.map((x) => cpuMs(x.child.pid!));
    const res = await runLoad({ target: 'parley', url: nodes[0]!.url, durationMs: o.seconds * 1000, window: o.window, ...(o.rate ? { ratePerSender: o.rate } : {}) }, pairs, o.generators);
    const cpu = nodes.reduce((a, x, i) => a + cpuMs(x.child.pid!) - cpu0[i]!, 0);
    const [c1, s1, b1] = [total(await commitCount()), total(await commitSum()), total(await batchSum())];
    const lat = summarize(res.latencies);
    const row: Row = {
      nodes: n,
      stored: res.sent / o.seconds,
      delivered: res.delivered / o.seconds,
      p50: lat.p50,
      p99: lat.p99,
      errors: res.errors,
      cpu: cpu / ((o.seconds + 1.5) * 10 * n),
      cpuPer1k: (cpu / Math.max(1, res.sent)) * 1000,
      commits: (c1 - c0) / o.seconds,
      batch: (b1 - b0) / Math.max(1, c1 - c0),
      commitMs: ((s1 - s0) / Math.max(1, c1 - c0)) * 1000,
    };
    if (o.idle > 0) {
      const idle = await idleSessions(nodes[0]!, users.map((u) => u.access), o.idle);
      console.log(`# ${idle.opened} idle WebSocket sessions on one node: ${(idle.bytesPerSession / 1024).toFixed(1)} KiB resident memory each`);
    }
    return row;
  } finally {
    await Promise.allSettled(nodes.map((x) => x.stop()));
    await ns.drop().catch(() => {});
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string', default: '1,2,3' },
      pairs: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '10' },
      window: { type: 'string', default: '4' },
      rate: { type: 'string' },
      generators: { type: 'string', default: '2' },
      idle: { type: 'string', default: '0' },
    },
  });
  const opts = {
    pairs: Number(values.pairs),
    seconds: Number(values.seconds),
    window: Number(values.window),
    generators: Number(values.generators),
    idle: Number(values.idle),
    ...(values.rate ? { rate: Number(values.rate) } : {}),
  };
  const rows: Row[] = [];
  for (const n of values.nodes.split(',').map(Number)) {
    console.log(`# ${n} node(s): ${opts.pairs} pairs, ${opts.seconds} s, ${opts.rate ? `${opts.rate} msg/s per sender` : `window ${opts.window}`} ...`);
    rows.push(await runFor(n, opts));
  }
  console.log(
    table(
      ['nodes', 'stored msg/s', 'delivered msg/s', 'p50 ms', 'p99 ms', 'errors', 'node CPU %', 'CPU ms/1k msgs', 'commits/s', 'msgs/commit', 'commit ms'],
      rows.map((r) => [r.nodes, Math.round(r.stored), Math.round(r.delivered), r.p50, r.p99, r.errors, r.cpu, r.cpuPer1k, Math.round(r.commits), r.batch, r.commitMs]),
    ),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
