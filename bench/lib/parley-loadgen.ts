/**
 * A load-generator process (forked by a scenario): drives some sender/receiver pairs over
 * WebSocket against a Parley node and reports counts and send->deliver latencies over IPC.
 * Latency uses performance.timeOrigin + now(), comparable across processes on one machine.
 */
import WebSocket from 'ws';

export interface Pair {
  sender: string;
  receiver: string;
  conv: string;
}

export interface LoadJob {
  url: string;
  pairs: Pair[];
  durationMs: number;
  /** Outstanding unacknowledged sends per sender (closed loop). */
  window: number;
  /** If set, each sender sends at most this many messages per second (open loop, paced). */
  ratePerSender?: number;
}

export interface LoadResult {
  sent: number;
  delivered: number;
  errors: number;
  latencies: number[];
  elapsedMs: number;
}

const now = () => performance.timeOrigin + performance.now();

function open(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?token=${token}`);
    ws.once('message', () => resolve(ws)); // welcome
    ws.once('error', reject);
  });
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, delivered: 0, errors: 0, latencies: [], elapsedMs: 0 };
  const conns = await Promise.all(job.pairs.map(async (p) => ({ p, s: await open(job.url, p.sender), r: await open(job.url, p.receiver) })));
  let running = true;
  const start = now();
  const stopAt = start + job.durationMs;
  const finished: Promise<void>[] = [];
  let seqNo = 0;
  for (const { p, s, r } of conns) {
    let lastCursor = 0;
    let ackTimer: NodeJS.Timeout | null = null;
    r.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { t: string; c?: number; e?: { k: string; msg?: { body: string } } };
      if (f.t !== 'ev' || f.c === undefined) return;
      lastCursor = f.c;
      if (f.e?.k === 'message' && f.e.msg) {
        result.delivered += 1;
        if (result.latencies.length < 500_000) result.latencies.push(now() - Number(f.e.msg.body.split(' ')[0]));
      }
      ackTimer ??= setTimeout(() => {
        ackTimer = null;
        r.send(JSON.stringify({ t: 'ack', cursor: lastCursor }));
      }, 50);
    });
    let outstanding = 0;
    let nextAt = now();
    const interval = job.ratePerSender ? 1000 / job.ratePerSender : 0;
    const pump = () => {
      while (running && outstanding < job.window && now() < stopAt) {
        if (interval > 0) {
          const t = now();
          if (t < nextAt) {
            setTimeout(pump, Math.max(1, nextAt - t));
            return;
          }
          nextAt += interval;
        }
        outstanding += 1;
        s.send(JSON.stringify({ t: 'send', id: ++seqNo, conv: p.conv, cmid: `b${process.pid}-${seqNo}`, body: `${now()} payload` }));
      }
    };
    s.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { t: string };
      if (f.t === 'res') {
        outstanding -= 1;
        result.sent += 1;
        pump();
      } else if (f.t === 'err') {
        outstanding -= 1;
        result.errors += 1;
        pump();
      }
    });
    finished.push(new Promise((resolve) => setTimeout(resolve, job.durationMs + 1500)));
    pump();
  }
  await Promise.all(finished);
  running = false;
  result.elapsedMs = job.durationMs;
  for (const { s, r } of conns) {
    s.close();
    r.close();
  }
  return result;
}

process.on('message', (job: LoadJob) => {
  runJob(job).then(
    (res) => {
      process.send?.(res, () => process.exit(0));
    },
    (err: unknown) => {
      process.send?.({ error: String(err) }, () => process.exit(1));
    },
  );
});
