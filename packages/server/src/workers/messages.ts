/**
 * What a worker tells its primary over the cluster IPC channel. A discriminated union keyed by `t`;
 * the primary ignores anything else.
 */
export type WorkerMessage =
  /** The worker's node is listening and ready (its /healthz answers 200). */
  { t: 'parley:ready'; node: string; pid: number; port: number };

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'parley:ready';
}

/** Environment variables the primary sets on each worker. */
export const WorkerEnv = {
  /** 0-based slot of this worker; a restarted worker keeps its slot and so its node id. */
  index: 'PARLEY_WORKER_INDEX',
  /** The worker's node id (`<base>-w<index>`). */
  nodeId: 'PARLEY_NODE_ID',
  tokenSecret: 'PARLEY_TOKEN_SECRET',
} as const;
