/**
 * Runs a bench peer over `workers` processes with node:cluster, as `parley start --workers N` does.
 * In the primary (workers > 1) it forks the workers, reports `ready` to the bench once all listen,
 * and forwards SIGTERM; it returns false there. In a worker, or with one process, it returns true:
 * the caller starts its server, listens, and calls `listening()` once bound.
 */
import cluster from 'node:cluster';

export function servesHere(workers: number): boolean {
  if (!(cluster.isPrimary && workers > 1)) {
    process.on('SIGTERM', () => process.exit(0));
    return true;
  }
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork().on('listening', () => ++ready === workers && process.send?.('ready'));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500);
  });
  return false;
}

/** Tell the bench a single-process peer is ready (a worker's readiness is counted by the primary). */
export function listening(): void {
  if (!cluster.isWorker) process.send?.('ready');
}
