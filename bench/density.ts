/**
 * `npm run bench -- density [--conns 20000,50000,100000] [--targets parley,ws,socketio]
 *   [--workers W] [--per-process 15000] [--hold 30] [--inflight 200] [--port 18600]`
 *
 * Idle authenticated WebSocket connections, heartbeats on (25 s pings), grown step by step to each
 * N of --conns, for each target in turn in the same run: Parley (`parley start --workers W`, SQLite
 * shared by the workers + Redis), the bare ws peer and the Socket.IO peer (both over W processes with
 * node:cluster). Load from processes of at most --per-process connections, each from its own
 * 127.0.0.x source address. After each step the connections sit idle for --hold seconds (one
 * heartbeat round at least); then RSS is summed over the server's processes from /proc.
 *
 * Reported per step: RSS total and per connection open at the end of the hold (above the idle
 * server's RSS), CPU per connection
 * to accept and authenticate, idle CPU (heartbeats, routing refreshes) per 1k connections, and for
 * Parley the growth of Redis' memory (routes and presence). W defaults to ceil(max N / 15000).
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
import { seedUsers } from './lib/fleet-users.ts';
import { writeChart } from './lib/plot.ts';
import { table } from './lib/stats.ts';

const REDIS_URL = process.env['PARLEY_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface DensityRow {
  target: FleetTarget;
  conns: number;
  failed: number;
  /** Open at the time of measurement (after the hold). */
  live: number;
  connectS: number;
  rssMiB: number;
  rssPerConnKiB: number;
  cpuMsPerConn: number;
  idleCpuPer1k: number;
  redisPerConnKiB: number;
  /** Connections the load did not close itself, by close code (1006: cut without a close frame). */
  closed: string;
  load1: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

async function redisUsed(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

async function dropPrefix(r: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await r.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

interface Prepared {
  server: ServerTree;
  who: string[];
  cleanup(): Promise<void>;
}

async function prepare(target: FleetTarget, max: number, workers: number, port: number, redis: Redis): Promise<Prepared> {
  if (target !== 'parley') {
    const server = await startPeerCluster(target === 'ws' ? 'ws-density.ts' : 'socketio-density.ts', workers, port);
    return { server, who: Array.from({ length: max }, (_, i) => `u${i}`), cleanup: async () => {} };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-density-'));
  const secret = `density-${Math.random().toString(36).slice(2)}`;
  const prefix = `bench:density:${Math.random().toString(36).slice(2, 8)}:`;
  const t0 = performance.now();
  const store = new SqliteStore({ path: join(dataDir, 'parley.db') });
  await store.migrate();
  const users = await seedUsers(store, max, 'd', secret);
  await store.close();
  console.error(`[density] parley: ${max} users and devices created through the Store port in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startParleyWorkers({ workers, port, dataDir, secret, redisUrl: REDIS_URL, redisPrefix: prefix });
  return {
    server,
    who: users.map((u) => u.token),
    async cleanup() {
      await dropPrefix(redis, prefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function run(argv: string[]): Promise<DensityRow[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      conns: { type: 'string', default: '20000,50000,100000' },
      targets: { type: 'string', default: 'parley,ws,socketio' },
      workers: { type: 'string' },
      'per-process': { type: 'string', default: '15000' },
      hold: { type: 'string', default: '30' },
      inflight: { type: 'string', default: '200' },
      port: { type: 'string', default: '18600' },
      plot: { type: 'string', default: 'docs/benchmarks/density.svg' },
    },
  });
  const steps = values.conns.split(',').map(Number).sort((a, b) => a - b);
  const max = steps[steps.length - 1] ?? 0;
  const perProcess = Number(values['per-process']);
  const workers = Number(values.workers ?? Math.ceil(max / perProcess));
  const holdMs = Number(values.hold) * 1000;
  const inflight = Number(values.inflight);
  const targets = values.targets.split(',') as FleetTarget[];
  const redis = new Redis(REDIS_URL);
  const rows: DensityRow[] = [];
  let port = Number(values.port);
  let firstAddress = 10;
  for (const target of targets) {
    const p = await prepare(target, max, workers, port++, redis);
    const fleet = new Fleet(perProcess, firstAddress);
    firstAddress += Math.ceil(max / perProcess) * 2 + 2;
    try {
      await sleep(3000);
      const rss0 = p.server.rss();
      const redis0 = await redisUsed(redis);
      let have = 0;
      for (const n of steps) {
        const cpu0 = p.server.cpu();
        const opened = await fleet.open(target, p.server.url, p.who.slice(have, n).map((who) => ({ who })), { inflight, timeoutMs: 60_000, track: false });
        if (opened.failed) console.error(`[density] ${target} ${n}: ${opened.failed} failed: ${opened.reasons.join('; ')}`);
        have = n;
        const cpuConnect = p.server.cpu() - cpu0;
        const cpu1 = p.server.cpu();
        await sleep(holdMs);
        const idleCpu = p.server.cpu() - cpu1;
        const rss = p.server.rss();
        const conns = await fleet.live();
        const row: DensityRow = {
          target,
          conns: n,
          failed: opened.failed,
          live: conns,
          connectS: opened.ms / 1000,
          rssMiB: rss / MiB,
          rssPerConnKiB: (rss - rss0) / 1024 / conns,
          cpuMsPerConn: cpuConnect / (n - (rows.filter((r) => r.target === target).at(-1)?.conns ?? 0)),
          idleCpuPer1k: (idleCpu / holdMs) * 100 * (1000 / conns),
          redisPerConnKiB: target === 'parley' ? ((await redisUsed(redis)) - redis0) / 1024 / conns : NaN,
          closed: Object.entries(fleet.closes).map(([code, k]) => `${k}×${code}`).join(' ') || '0',
          load1: loadavg()[0] ?? NaN,
        };
        rows.push(row);
        if (row.closed !== '0') console.error(`[density] ${target} ${n}: closed by the server or the network (count×close code): ${row.closed}`);
        console.error(`[density] ${target} ${n}: ${conns} open, RSS ${row.rssMiB.toFixed(0)} MiB, ${row.rssPerConnKiB.toFixed(2)} KiB/conn, connect ${row.connectS.toFixed(1)} s, ${row.cpuMsPerConn.toFixed(2)} CPU ms/conn, idle ${row.idleCpuPer1k.toFixed(3)} %/1k, load ${row.load1.toFixed(2)}`);
      }
    } finally {
      await fleet.close();
      await p.server.stop();
      await p.cleanup();
    }
  }
  redis.disconnect();
  console.log(`\n### density: idle authenticated WebSocket connections, heartbeat 25 s, ${workers} server processes per target, ≤ ${perProcess} connections per load process\n`);
  console.log(
    table(
      ['target', 'connections', 'failed', 'open after hold', 'closed by server', 'connect s', 'RSS MiB (all processes)', 'RSS KiB / conn', 'CPU ms / conn (connect)', 'idle CPU % per 1k conns', 'Redis KiB / conn', 'load1'],
      rows.map((r) => [r.target, r.conns, r.failed, r.live, r.closed, r.connectS, r.rssMiB, r.rssPerConnKiB.toFixed(2), r.cpuMsPerConn.toFixed(2), r.idleCpuPer1k.toFixed(3), Number.isFinite(r.redisPerConnKiB) ? r.redisPerConnKiB.toFixed(2) : '-', r.load1.toFixed(2)]),
    ),
  );
  const at = (t: FleetTarget, n: number) => rows.find((r) => r.target === t && r.conns === n);
  const ratios: string[] = [];
  for (const n of steps) {
    const pr = at('parley', n);
    if (!pr) continue;
    const peers = targets.filter((t) => t !== 'parley').map((t) => {
      const o = at(t, n);
      return o ? `${(pr.rssPerConnKiB / o.rssPerConnKiB).toFixed(2)}× ${t}` : null;
    });
    ratios.push(`${n}: ${peers.filter(Boolean).join(', ')}`);
  }
  if (ratios.length) console.log(`\nParley's RSS per connection as a multiple of the peers' — ${ratios.join('; ')}`);
  if (values.plot) {
    writeChart(values.plot, {
      title: 'Idle WebSocket connections: server RSS (all processes)',
      subtitle: `npm run bench -- density --conns ${values.conns}; ${workers} server processes; load1 ${rows.at(-1)?.load1.toFixed(2) ?? '-'}`,
      x: { label: 'connections' },
      y: { label: 'RSS (MiB)', min: 0 },
      series: targets.map((t) => ({ name: t, points: rows.filter((r) => r.target === t).map((r) => [r.conns, r.rssMiB] as [number, number]) })),
    });
  }
  return rows;
}
