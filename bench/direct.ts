/**
 * `npm run bench -- direct [--targets parley,parley-worker,parley-pg,socketio,ws] [--pairs N] [--seconds S]
 *   [--rates R1,R2,...] [--window W] [--generators G] [--port P]`
 * (`parley-worker`: SQLite writes in a writer thread; `parley-pg`: the node on PostgreSQL + Redis, whose
 * processes' CPU is reported in its own column; PARLEY_BENCH_PROFILE=DIR profiles the server.)
 *
 * N user pairs exchange 1:1 messages. For each target in turn (same machine, same run): its server in
 * its own process, load from G generator processes. Each step offers a total rate R (msgs/s, paced
 * per sender); a final closed-loop step (window W per sender) finds the maximum. Reports stored
 * (acknowledged) and delivered msgs/s, send->deliver latency percentiles and server CPU per 1k
 * messages, then Parley's figures as ratios to the others.
 */
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Pair, Target } from './lib/drivers.ts';
import type { LoadJob, LoadResult } from './lib/loadgen.ts';
import { writeRateChart } from './lib/plot.ts';
import { summarize, table } from './lib/stats.ts';
import { backingCpuMs } from './lib/pg-target.ts';
import { cpuMs, startTarget } from './lib/targets.ts';

export async function runLoad(job: Omit<LoadJob, 'pairs'>, pairs: Pair[], generators: number): Promise<LoadResult> {
  const shares: Pair[][] = Array.from({ length: generators }, () => []);
  pairs.forEach((p, i) => shares[i % generators]!.push(p));
  const results = await Promise.all(
    shares
      .filter((s) => s.length > 0)
      .map(
        (share) =>
          new Promise<LoadResult>((resolve, reject) => {
            const child = fork(new URL('./lib/loadgen.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
            child.once('message', (m: LoadResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
            child.send({ ...job, pairs: share } satisfies LoadJob);
          }),
      ),
  );
  return {
    sent: results.reduce((a, r) => a + r.sent, 0),
    delivered: results.reduce((a, r) => a + r.delivered, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    latencies: results.flatMap((r) => r.latencies),
  };
}

export interface StepRow {
  target: Target;
  offered: number | 'max';
  stored: number;
  delivered: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  cpuPer1k: number;
  /** PostgreSQL + Redis processes' CPU over the step, per 1k delivered. */
  backingPer1k: number;
}

export async function run(argv: string[]): Promise<StepRow[]> {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: 'string', default: 'parley,socketio,ws' },
      pairs: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '8' },
      rates: { type: 'string', default: '2000,4000,8000' },
      window: { type: 'string', default: '16' },
      generators: { type: 'string', default: '2' },
      port: { type: 'string', default: '18200' },
      plot: { type: 'string', default: 'docs/benchmarks/direct.svg' },
    },
  });
  const targets = values.targets.split(',') as Target[];
  const seconds = Number(values.seconds);
  const nPairs = Number(values.pairs);
  const generators = Number(values.generators);
  const steps: (number | 'max')[] = [...values.rates.split(',').filter(Boolean).map(Number), 'max'];
  const rows: StepRow[] = [];
  let port = Number(values.port);
  for (const target of targets) {
    const t = await startTarget(target, port++);
    try {
      const pairs = await t.makePairs(nPairs);
      for (const step of steps) {
        const cpu0 = cpuMs(t.pid);
        const backing0 = backingCpuMs();
        const res = await runLoad(
          {
            target,
            url: t.url,
            durationMs: seconds * 1000,
            window: Number(values.window),
            ...(step === 'max' ? {} : { ratePerSender: step / nPairs }),
          },
          pairs,
          generators,
        );
        const cpu = cpuMs(t.pid) - cpu0;
        const backing = backingCpuMs() - backing0;
        const lat = summarize(res.latencies);
        const row: StepRow = {
          target,
          offered: step,
          stored: res.sent / seconds,
          delivered: res.delivered / seconds,
          errors: res.errors,
          p50: lat.p50,
          p95: lat.p95,
          p99: lat.p99,
          max: lat.max,
          cpuPer1k: res.delivered > 0 ? (cpu / res.delivered) * 1000 : NaN,
          backingPer1k: res.delivered > 0 ? (backing / res.delivered) * 1000 : NaN,
        };
        rows.push(row);
        console.error(`[direct] ${target} offered ${step}: delivered ${row.delivered.toFixed(0)}/s p99 ${row.p99.toFixed(1)} ms`);
      }
    } finally {
      await t.stop();
    }
  }
  console.log(`\n### direct: ${nPairs} pairs, ${seconds} s per step, ${generators} load processes (parley: embedded SQLite; parley-pg: PostgreSQL + Redis; both durable)\n`);
  console.log(
    table(
      ['target', 'offered msgs/s', 'stored msgs/s', 'delivered msgs/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'server CPU ms / 1k msgs', 'PostgreSQL + Redis CPU ms / 1k msgs'],
      rows.map((r) => [r.target, r.offered, r.stored, r.delivered, r.errors, r.p50, r.p95, r.p99, r.max, r.cpuPer1k, r.backingPer1k]),
    ),
  );
  const best = (target: Target) => Math.max(0, ...rows.filter((r) => r.target === target).map((r) => r.delivered));
  const peers = targets.filter((x) => !x.startsWith('parley'));
  for (const own of targets.filter((x) => x.startsWith('parley'))) {
    const ratios = peers.map((x) => `${(best(own) / best(x)).toFixed(2)}× ${x}`);
    if (ratios.length) console.log(`\n${own}: best delivered rate = ${ratios.join(', ')}`);
  }
  console.log(`\nplot: ${writeRateChart(values.plot, `p99 latency vs offered rate: ${targets.join(', ')}`, `${nPairs} pairs, ${seconds} s per step · npm run bench -- direct ${argv.join(' ')}`, rows)}`);
  return rows;
}
