/**
 * The primary of `parley start --workers N`: it serves no client itself. It checks the configuration,
 * runs the store's migrations once, resolves the shared token secret, forks N workers (each a full
 * Parley node, `<base>-w<i>`) that share the listening port through node:cluster, restarts a worker
 * that dies, and on SIGTERM / SIGINT drains every worker before it exits.
 *
 * Why node:cluster: Node 20 has no `reusePort`, so several processes can share one port only through
 * cluster. Its default round-robin scheduling (the primary accepts and hands each connection to the
 * next worker) spreads connections evenly, which keeps each worker under the per-process open-file
 * limit; the OS-balanced alternative (`NODE_CLUSTER_SCHED_POLICY=none`) is faster to accept but piles
 * connections on whichever worker wakes first.
 *
 * Why Redis: workers are separate nodes of one cluster, so they need a shared router, broker and
 * presence. Redis implementations exist and are tested; an IPC hub in the primary would be a fourth
 * implementation of three ports for one machine only, and would make the primary a hop for every
 * notice. Several workers without PARLEY_REDIS_URL is therefore a configuration error.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { isWorkerMessage, WorkerEnv } from './messages.ts';

export interface PrimaryOptions {
  workers: number;
  /** Worker i is node `${nodeIdBase}-w${i}`. */
  nodeIdBase: string;
  tokenSecret: string;
  /** Runs the store's migrations (once, before any worker starts). */
  migrate: () => Promise<void>;
  /** How long a draining worker may take before it is killed, ms. */
  drainTimeoutMs: number;
  log: Logger;
}

export class WorkersConfigError extends Error {}

/** Refuses configurations that cannot work; the message says what to do. */
export function checkWorkersConfig(workers: number, redisUrl: string | undefined): void {
  if (!Number.isInteger(workers) || workers < 1) throw new WorkersConfigError(`--workers must be a positive integer or "auto", got ${workers}`);
  if (workers > 1 && !redisUrl) {
    throw new WorkersConfigError(
      `--workers ${workers} needs PARLEY_REDIS_URL: the workers are separate nodes and share routing, the broker and presence through Redis ` +
        '(e.g. PARLEY_REDIS_URL=redis://127.0.0.1:6379). Run without --workers for a single process.',
    );
  }
}

interface Slot {
  index: number;
  node: string;
  worker: Worker | null;
  startedAt: number;
  ready: boolean;
  /** Consecutive deaths within RESTART_WINDOW_MS of starting. */
  quickDeaths: number;
}

/** A worker that lived this long before dying is restarted at once; quicker deaths back off. */
const RESTART_WINDOW_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;

export class Primary {
  private readonly slots: Slot[] = [];
  private stopping: Promise<number> | null = null;
  /** False until every worker of the first start was ready. */
  private running = false;

  private constructor(private readonly o: PrimaryOptions) {}

  /** Resolves once every worker is ready; rejects (after killing the others) if one dies first. */
  static async start(o: PrimaryOptions): Promise<Primary> {
    await o.migrate();
    const p = new Primary(o);
    for (let i = 0; i < o.workers; i++) p.slots.push({ index: i, node: `${o.nodeIdBase}-w${i}`, worker: null, startedAt: 0, ready: false, quickDeaths: 0 });
    try {
      await Promise.all(p.slots.map((s) => p.fork(s)));
    } catch (err) {
      await p.stop();
      throw err;
    }
    p.running = true;
    o.log.info({ workers: o.workers, pids: p.pids() }, 'parley workers ready');
    return p;
  }

  pids(): number[] {
    return this.slots.map((s) => s.worker?.process.pid ?? 0);
  }

  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ [WorkerEnv.index]: String(slot.index), [WorkerEnv.nodeId]: slot.node, [WorkerEnv.tokenSecret]: this.o.tokenSecret });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.ready = false;
    return new Promise((resolve, reject) => {
      worker.on('message', (m: unknown) => {
        if (!isWorkerMessage(m)) return;
        slot.ready = true;
        this.o.log.info({ node: m.node, pid: m.pid, port: m.port }, 'worker ready');
        resolve();
      });
      worker.once('exit', (code, signal) => {
        if (slot.worker !== worker) return;
        slot.worker = null;
        if (this.stopping) return;
        if (!this.running) {
          // Dying during the first start is a configuration problem (port taken, bad store):
          // restarting would only loop.
          reject(new Error(`worker ${slot.node} exited with ${signal ?? code} before it was ready`));
          return;
        }
        this.restart(slot, code, signal);
      });
    });
  }

  private restart(slot: Slot, code: number | null, signal: string | null): void {
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < RESTART_WINDOW_MS ? slot.quickDeaths + 1 : 0;
    const delay = slot.quickDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (slot.quickDeaths - 1));
    this.o.log.error({ node: slot.node, code, signal, livedMs: lived, restartInMs: delay }, 'worker died; restarting it');
    setTimeout(() => {
      if (this.stopping) return;
      // A restart that dies before ready is restarted again, with backoff (see the exit handler).
      this.fork(slot).catch(() => {});
    }, delay);
  }

  /**
   * Drain: SIGTERM to every worker (each drains its clients as a single node does), wait for all to
   * exit, SIGKILL any still there after the drain timeout. Resolves with 0 when every worker exited
   * cleanly, else 1.
   */
  stop(): Promise<number> {
    this.stopping ??= (async () => {
      const exits = this.slots.map((s) => {
        const w = s.worker;
        if (!w || w.isDead()) return Promise.resolve(0);
        return new Promise<number>((resolve) => {
          const timer = setTimeout(() => w.process.kill('SIGKILL'), this.o.drainTimeoutMs + 5_000);
          w.once('exit', (code) => {
            clearTimeout(timer);
            resolve(code ?? 1);
          });
          w.process.kill('SIGTERM');
        });
      });
      const codes = await Promise.all(exits);
      this.o.log.info({ codes }, 'parley workers stopped');
      return codes.every((c) => c === 0) ? 0 : 1;
    })();
    return this.stopping;
  }
}
