/**
 * Server processes for the density and storm benches: Parley as `parley start --workers N` (SQLite
 * file shared by the workers, Redis for routing/broker/presence), and the bare ws and Socket.IO
 * peers, each also spread over N worker processes with node:cluster (peers/*-density.ts). RSS and
 * CPU are summed over the whole process tree, primary included, from /proc.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { cpuMs, rssBytes } from './targets.ts';
import { waitHealthy } from './server.ts';

export interface ServerTree {
  url: string;
  /** The primary's pid. */
  pid: number;
  /** RSS of every process of the tree, bytes. */
  rss(): number;
  /** CPU ms (user + system) of every live process of the tree so far. */
  cpu(): number;
  processes(): number;
  stop(): Promise<void>;
}

/** The pid and all its descendants (Linux /proc/<pid>/task/<pid>/children). */
export function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const kids = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (kids) out.push(...kids.split(' ').map(Number));
    } catch {
      // gone
    }
  }
  return out;
}

function stopChild(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      for (const p of tree(child.pid ?? 0).reverse()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function treeOf(url: string, child: ChildProcess): ServerTree {
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    rss: () => tree(pid).reduce((s, p) => s + (rssBytes(p) || 0), 0),
    cpu: () => tree(pid).reduce((s, p) => s + (cpuMs(p) || 0), 0),
    processes: () => tree(pid).length,
    stop: () => stopChild(child),
  };
}

export async function startParleyWorkers(o: { workers: number; port: number; dataDir: string; secret: string; redisUrl: string; redisPrefix: string; env?: Record<string, string> }): Promise<ServerTree> {
  // BENCH_SERVER_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=prof", go to the server's processes (the
  // workers inherit the primary's flags), not to the load.
  const flags = (process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, ['--import', 'tsx', ...flags, 'packages/server/src/cli.ts', 'start', '--workers', String(o.workers)], {
    env: {
      ...process.env,
      PARLEY_PORT: String(o.port),
      PARLEY_HOST: '127.0.0.1',
      PARLEY_DATA_DIR: o.dataDir,
      PARLEY_TOKEN_SECRET: o.secret,
      PARLEY_REDIS_URL: o.redisUrl,
      PARLEY_REDIS_PREFIX: o.redisPrefix,
      PARLEY_LOG_LEVEL: 'warn',
      // One load connection is one device here, but the storm's catch-up acks are frequent.
      PARLEY_LIMITS: 'maxFramesPerSecond=100000',
      ...o.env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${o.port}`;
  const tree = treeOf(url, child);
  // Generous: on a loaded 2-core machine the primary's migrations and N workers compiling through
  // tsx took over 2 minutes. A tree that never became ready must not outlive the bench.
  try {
    await waitHealthy(url, 300_000);
    await waitAllWorkers(url, o.workers, 300_000);
  } catch (err) {
    await tree.stop();
    throw err;
  }
  return tree;
}

/** GET /healthz on fresh connections (the primary deals them out in turn) until every node answered. */
async function waitAllWorkers(url: string, workers: number, timeoutMs: number): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < workers) {
    if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${workers} workers answered`);
    const body = await new Promise<string>((resolve) => {
      get(`${url}/healthz`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 ? text : ''));
      }).on('error', () => resolve(''));
    });
    if (body) seen.add((JSON.parse(body) as { node: string }).node);
    else await new Promise((r) => setTimeout(r, 100));
  }
}

export function startPeerCluster(file: string, workers: number, port: number): Promise<ServerTree> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`../peers/${file}`, import.meta.url), [String(port), String(workers)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', () => resolve(treeOf(`http://127.0.0.1:${port}`, child)));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}
