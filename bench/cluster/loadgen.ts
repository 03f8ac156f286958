/**
 * A load-generator process for `bench/cluster.ts`: like lib/loadgen.ts, but each sender and each
 * receiver connects to the node it is given, so a pair can span two nodes. Reports acknowledged
 * sends, deliveries and send->deliver latencies (performance.timeOrigin + now(), comparable across
 * processes on one machine) over IPC.
 */
import { connect } from '../lib/drivers.ts';

export interface ClusterPair {
  sender: string;
  receiver: string;
  conv: string;
  senderUrl: string;
  receiverUrl: string;
}

export interface ClusterJob {
  pairs: ClusterPair[];
  durationMs: number;
  /** Unacknowledged sends per sender (closed loop). */
  window: number;
  /** If set, each sender sends at this rate (open loop), the window still capping what is in flight. */
  ratePerSender?: number;
}

export interface ClusterLoadResult {
  sent: number;
  delivered: number;
  errors: number;
  latencies: number[];
}

const now = () => performance.timeOrigin + performance.now();

async function runJob(job: ClusterJob): Promise<ClusterLoadResult> {
  const result: ClusterLoadResult = { sent: 0, delivered: 0, errors: 0, latencies: [] };
  const ends = await Promise.all(
    job.pairs.map(async (p) => ({
      s: await connect('parley', p.senderUrl, p.sender, p.conv, 'sender'),
      r: await connect('parley', p.receiverUrl, p.receiver, p.conv, 'receiver'),
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
  await new Promise((r) => setTimeout(r, job.durationMs + 1500));
  for (const { s, r } of ends) {
    s.close();
    r.close();
  }
  return result;
}

process.on('message', (job: ClusterJob) => {
  runJob(job).then(
    (res) => process.send?.(res, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: String(err) }, () => process.exit(1)),
  );
});
