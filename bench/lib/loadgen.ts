/**
 * A load-generator process, forked by a scenario: drives sender/receiver pairs against one target
 * and reports counts and send->deliver latencies over IPC. Latency uses
 * performance.timeOrigin + now(), comparable across processes on one machine.
 */
import { connect, type Pair, type Target } from './drivers.ts';

export interface LoadJob {
  target: Target;
  url: string;
  pairs: Pair[];
  durationMs: number;
  /** Outstanding unacknowledged sends per sender (closed loop). */
  window: number;
  /** If set, each sender sends at this rate (open loop, paced), window still capping in-flight sends. */
  ratePerSender?: number;
}

export interface LoadResult {
  sent: number;
  delivered: number;
  errors: number;
  latencies: number[];
}

const now = () => performance.timeOrigin + performance.now();

async function runJob(job: LoadJob): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, delivered: 0, errors: 0, latencies: [] };
  const ends = await Promise.all(
    job.pairs.map(async (p) => ({
      s: await connect(job.target, p.senderUrl ?? job.url, p.sender, p.to, 'sender'),
      r: await connect(job.target, p.receiverUrl ?? job.url, p.receiver, p.sender, 'receiver'),
    })),
  );
  const stopAt = now() + job.durationMs;
  let id = 0;
  for (const { s, r } of ends) {
    r.onMessage((body) => {
      result.delivered += 1;
      if (result.latencies.length < 1_000_000) result.latencies.push(now() - Number(body.slice(0, body.indexOf(' '))));
    });
    let outstanding = 0;
    const interval = job.ratePerSender ? 1000 / job.ratePerSender : 0;
    let nextAt = now() + Math.random() * interval;
    let timer: NodeJS.Timeout | null = null;
    const pump = () => {
      timer = null;
      while (outstanding < job.window && now() < stopAt) {
        if (interval > 0) {
          const t = now();
          if (t < nextAt) {
            timer ??= setTimeout(pump, Math.max(1, nextAt - t));
            return;
          }
          nextAt += interval;
        }
        outstanding += 1;
        s.send(++id, `${now()} payload-of-a-typical-chat-message`);
      }
    };
    s.onAck((ok) => {
      outstanding -= 1;
      if (ok) result.sent += 1;
      else result.errors += 1;
      if (timer === null) pump();
    });
    pump();
  }
  // Let the last deliveries arrive.
  await new Promise((r) => setTimeout(r, job.durationMs + 1000));
  for (const { s, r } of ends) {
    s.close();
    r.close();
  }
  return result;
}

process.on('message', (job: LoadJob) => {
  runJob(job).then(
    (res) => process.send?.(res, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: String(err) }, () => process.exit(1)),
  );
});
