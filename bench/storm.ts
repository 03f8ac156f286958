/**
 * `npm run bench -- storm [--clients 50000] [--targets parley,socketio,ws] [--group 100]
 *   [--messages 10] [--workers W] [--per-process 15000] [--inflight 1000] [--port 18700]`
 *
 * A reconnect storm. All clients are connected (Parley: authenticated, each a distinct user and
 * device, each a member of one group of --group clients plus a sender account). Then:
 *  1. half of --messages are sent to every group over HTTP (POST /v1/cmd) and acknowledged as
 *     stored; the clients receive them live and ack cumulatively, as devices do;
 *  2. at once, every client connection is dropped from the load side (sockets destroyed, no close
 *     handshake) — what was still in flight is lost on the wire;
 *  3. the other half is sent while every client is away;
 *  4. every client reconnects at once (at most --inflight handshakes in flight per load process),
 *     Parley clients with the last cursor they received.
 * Measured: time from the reconnect order until every client has resumed (Parley: received every
 * event up to the log head its welcome announced), and, per client, messages expected vs received
 * distinct, duplicates and cursor gaps — the proof that nothing was lost. Socket.IO and the bare ws
 * peer only reconnect (they keep nothing to resume), so for them the time is until every socket is
 * connected again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SqliteStore } from '../packages/server/src/store/SqliteStore.ts';
import { Fleet } from './lib/fleet.ts';
import type { FleetTarget } from './lib/fleet-clients.ts';
import { startParleyWorkers, startPeerCluster, type ServerTree } from './lib/fleet-servers.ts';
import { seedUsers, type BenchUser } from './lib/fleet-users.ts';
import { writeChart } from './lib/plot.ts';
import { percentile, table } from './lib/stats.ts';

const REDIS_URL = process.env['PARLEY_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface StormRow {
  target: FleetTarget;
  clients: number;
  resumed: number;
  failed: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  gaps: number;
  cpuS: number;
  load1: number;
}

async function cmd<T>(url: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/v1/cmd`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const out = (await res.json()) as unknown;
  const frames = (Array.isArray(out) ? out : [out]) as { t: string; code?: string; data?: unknown }[];
  const bad = frames.find((f) => f.t !== 'res');
  if (bad) throw new Error(`command failed: ${bad.code}`);
  return (Array.isArray(out) ? frames.map((f) => f.data) : frames[0]!.data) as T;
}

/** Runs `fn` over `items` with `lanes` concurrent workers. */
async function lanes<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

interface Groups {
  senders: BenchUser[];
  convs: string[];
}

async function sendRound(url: string, g: Groups, perGroup: number, round: string): Promise<void> {
  await lanes(g.convs, 16, async (conv, i) => {
    const batch = Array.from({ length: perGroup }, (_, k) => ({ t: 'send', id: k + 1, conv, cmid: `${round}-${k}`, body: `storm ${round} ${k}` }));
    await cmd(url, g.senders[i]!.token, batch);
  });
}

async function runParley(o: { clients: number; group: number; messages: number; workers: number; perProcess: number; inflight: number; port: number }, redis: Redis): Promise<StormRow> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-storm-'));
  const secret = `storm-${Math.random().toString(36).slice(2)}`;
  const prefix = `bench:storm:${Math.random().toString(36).slice(2, 8)}:`;
  const nGroups = Math.ceil(o.clients / o.group);
  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  await store.migrate();
  const t0 = performance.now();
  const users = await seedUsers(store, o.clients, 's', secret);
  const senders = await seedUsers(store, nGroups, 'sender', secret);
  await store.close();
  console.error(`[storm] parley: ${o.clients + nGroups} users and devices created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startParleyWorkers({ workers: o.workers, port: o.port, dataDir, secret, redisUrl: REDIS_URL, redisPrefix: prefix });
  const fleet = new Fleet(o.perProcess, 10);
  try {
    const convs: string[] = new Array<string>(nGroups);
    await lanes(senders, 8, async (s, i) => {
      const members = users.slice(i * o.group, (i + 1) * o.group).map((u) => u.user);
      convs[i] = (await cmd<{ conversation: { id: string } }>(server.url, s.token, { t: 'conv.group', id: 1, name: `storm ${i}`, members })).conversation.id;
    });
    const groups: Groups = { senders, convs };
    const opened = await fleet.open('parley', server.url, users.map((u) => ({ who: u.token })), { inflight: 200, timeoutMs: 120_000, track: true });
    console.error(`[storm] parley: ${opened.ok} connected in ${(opened.ms / 1000).toFixed(1)} s (${opened.failed} failed ${opened.reasons.join('; ')})`);
    const before = Math.floor(o.messages / 2);
    await sendRound(server.url, groups, before, 'live');
    await fleet.drop();
    console.error(`[storm] parley: ${before} messages per group sent live, all clients dropped`);
    await sendRound(server.url, groups, o.messages - before, 'away');
    console.error(`[storm] parley: ${o.messages - before} more per group sent while away; reconnecting all`);
    return await resumeAndCount('parley', fleet, server, o, o.messages);
  } finally {
    await fleet.close();
    await server.stop();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function resumeAndCount(target: FleetTarget, fleet: Fleet, server: ServerTree, o: { clients: number; inflight: number }, expected: number): Promise<StormRow> {
  const cpu0 = server.cpu();
  const r = await fleet.resume({ inflight: o.inflight, timeoutMs: 120_000 });
  const cpuS = (server.cpu() - cpu0) / 1000;
  const rep = await fleet.report(expected);
  const sorted = r.resumeMs.sort((a, b) => a - b);
  if (r.failed) console.error(`[storm] ${target}: ${r.failed} did not resume: ${r.reasons.join('; ')}`);
  return {
    target,
    clients: o.clients,
    resumed: r.ok,
    failed: r.failed,
    seconds: (sorted[sorted.length - 1] ?? NaN) / 1000,
    p50: percentile(sorted, 50) / 1000,
    p90: percentile(sorted, 90) / 1000,
    p99: percentile(sorted, 99) / 1000,
    expected: expected * o.clients,
    received: rep.messages,
    lost: expected > 0 ? rep.lost : NaN,
    duplicates: rep.duplicates,
    gaps: rep.gaps,
    cpuS,
    load1: loadavg()[0] ?? NaN,
  };
}

async function runPeer(target: 'ws' | 'socketio', o: { clients: number; workers: number; perProcess: number; inflight: number; port: number }): Promise<StormRow> {
  const server = await startPeerCluster(target === 'ws' ? 'ws-density.ts' : 'socketio-density.ts', o.workers, o.port);
  const fleet = new Fleet(o.perProcess, target === 'ws' ? 40 : 70);
  try {
    const opened = await fleet.open(target, server.url, Array.from({ length: o.clients }, (_, i) => ({ who: `u${i}` })), { inflight: 200, timeoutMs: 120_000, track: false });
    console.error(`[storm] ${target}: ${opened.ok} connected in ${(opened.ms / 1000).toFixed(1)} s; dropping all and reconnecting`);
    await fleet.drop();
    return await resumeAndCount(target, fleet, server, o, 0);
  } finally {
    await fleet.close();
    await server.stop();
  }
}

export async function run(argv: string[]): Promise<StormRow[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '50000' },
      targets: { type: 'string', default: 'parley,socketio,ws' },
      group: { type: 'string', default: '100' },
      messages: { type: 'string', default: '10' },
      workers: { type: 'string' },
      'per-process': { type: 'string', default: '15000' },
      inflight: { type: 'string', default: '1000' },
      port: { type: 'string', default: '18700' },
      plot: { type: 'string', default: 'docs/benchmarks/storm.svg' },
    },
  });
  const clients = Number(values.clients);
  const perProcess = Number(values['per-process']);
  const o = {
    clients,
    group: Number(values.group),
    messages: Number(values.messages),
    workers: Number(values.workers ?? Math.ceil(clients / perProcess)),
    perProcess,
    inflight: Number(values.inflight),
    port: Number(values.port),
  };
  const redis = new Redis(REDIS_URL);
  const rows: StormRow[] = [];
  try {
    for (const target of values.targets.split(',') as FleetTarget[]) {
      const row = target === 'parley' ? await runParley(o, redis) : await runPeer(target, { ...o, port: o.port + (target === 'ws' ? 1 : 2) });
      rows.push(row);
      console.error(`[storm] ${target}: ${row.resumed}/${row.clients} resumed in ${row.seconds.toFixed(1)} s, lost ${row.lost}, duplicates ${row.duplicates}`);
    }
  } finally {
    redis.disconnect();
  }
  console.log(`\n### storm: ${clients} clients drop and reconnect at once; ${o.workers} server processes; ≤ ${perProcess} clients and ≤ ${o.inflight} handshakes in flight per load process\n`);
  console.log(
    table(
      ['target', 'clients', 'resumed', 'not resumed', 'all resumed s', 'p50 s', 'p99 s', 'messages expected', 'received', 'lost', 'duplicates', 'cursor gaps', 'server CPU s', 'CPU ms / client', 'load1'],
      rows.map((r) => [r.target, r.clients, r.resumed, r.failed, r.seconds, r.p50, r.p99, r.target === 'parley' ? r.expected : '-', r.target === 'parley' ? r.received : '-', Number.isFinite(r.lost) ? r.lost : '-', r.duplicates, r.gaps, r.cpuS, ((r.cpuS * 1000) / r.clients).toFixed(2), r.load1.toFixed(2)]),
    ),
  );
  const p = rows.find((r) => r.target === 'parley');
  const ratios = rows.filter((r) => r.target !== 'parley').map((r) => `${p ? (p.seconds / r.seconds).toFixed(2) : '-'}× ${r.target}`);
  if (p && ratios.length) console.log(`\nParley's time to resume everyone as a multiple of the peers' time to reconnect: ${ratios.join(', ')}`);
  if (values.plot) {
    const marks = [50, 90, 99, 100];
    writeChart(values.plot, {
      title: `Reconnect storm: ${clients} clients, time until each has resumed`,
      subtitle: `npm run bench -- storm --clients ${clients}; ${o.workers} server processes; load1 ${rows.at(-1)?.load1.toFixed(2) ?? '-'}`,
      x: { label: 'clients resumed (percentile)', ticks: marks.map((v) => ({ value: v, label: v === 100 ? 'all' : `p${v}` })) },
      y: { label: 'seconds since the reconnect', min: 0 },
      series: rows.map((r) => ({ name: r.target, points: [[50, r.p50], [90, r.p90], [99, r.p99], [100, r.seconds]] as [number, number][] })),
    });
  }
  return rows;
}
