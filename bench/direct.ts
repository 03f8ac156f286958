/**
 * `npm run bench -- direct [--pairs N] [--seconds S] [--window W] [--generators G]`
 * N user pairs exchange 1:1 messages over WebSocket against one embedded (SQLite) Parley node in its
 * own process, load generated from G separate processes. Prints stored msgs/s, delivered msgs/s and
 * send->deliver latency percentiles.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { command, registerUser, startParley } from './lib/server.ts';
import { summarize, table } from './lib/stats.ts';
import type { LoadJob, LoadResult, Pair } from './lib/parley-loadgen.ts';

export async function runLoad(url: string, pairs: Pair[], generators: number, job: Omit<LoadJob, 'url' | 'pairs'>): Promise<LoadResult> {
  const shares: Pair[][] = Array.from({ length: generators }, () => []);
  pairs.forEach((p, i) => shares[i % generators]!.push(p));
  const results = await Promise.all(
    shares
      .filter((s) => s.length > 0)
      .map(
        (share) =>
          new Promise<LoadResult>((resolve, reject) => {
            const child = fork(new URL('./lib/parley-loadgen.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
            child.once('message', (m: LoadResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
            child.send({ url, pairs: share, ...job } satisfies LoadJob);
          }),
      ),
  );
  return {
    sent: results.reduce((a, r) => a + r.sent, 0),
    delivered: results.reduce((a, r) => a + r.delivered, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    latencies: results.flatMap((r) => r.latencies),
    elapsedMs: job.durationMs,
  };
}

export async function makePairs(url: string, n: number): Promise<Pair[]> {
  const tag = Math.random().toString(36).slice(2, 7);
  const pairs: Pair[] = [];
  for (let i = 0; i < n; i++) {
    const a = await registerUser(url, `a${i}_${tag}`);
    const b = await registerUser(url, `b${i}_${tag}`);
    const conv = await command<{ conversation: { id: string } }>(url, a.access, { t: 'conv.direct', user: b.user });
    pairs.push({ sender: a.access, receiver: b.access, conv: conv.conversation.id });
  }
  return pairs;
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '10' },
      window: { type: 'string', default: '8' },
      generators: { type: 'string', default: '2' },
      port: { type: 'string', default: '18200' },
      url: { type: 'string' },
    },
  });
  // --url: drive a server that is already running (e.g. one started under --cpu-prof).
  const server = values.url ? { url: values.url, stop: async () => {} } : await startParley(Number(values.port));
  try {
    const pairs = await makePairs(server.url, Number(values.pairs));
    const durationMs = Number(values.seconds) * 1000;
    const res = await runLoad(server.url, pairs, Number(values.generators), { durationMs, window: Number(values.window) });
    const lat = summarize(res.latencies);
    console.log(`\ndirect: ${values.pairs} pairs, window ${values.window}, ${values.seconds}s, ${values.generators} load processes, embedded SQLite node\n`);
    console.log(
      table(
        ['stored msgs/s', 'delivered msgs/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [[res.sent / (durationMs / 1000), res.delivered / (durationMs / 1000), res.errors, lat.p50, lat.p95, lat.p99, lat.max]],
      ),
    );
  } finally {
    await server.stop();
  }
}
