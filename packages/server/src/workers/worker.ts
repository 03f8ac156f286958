/**
 * One worker of `parley start --workers N`: a complete Parley node (its node id and the token secret
 * come from the primary through the environment). It tells the primary when it is ready, drains on
 * SIGTERM / SIGINT like a single node, and drains too if the primary disappears (the IPC channel
 * closes), so no orphan keeps serving.
 */
import type { ParleyNode } from '../node.ts';
import type { WorkerMessage } from './messages.ts';

export function announceReady(node: ParleyNode): void {
  const msg: WorkerMessage = { t: 'parley:ready', node: node.options.nodeId, pid: process.pid, port: node.port };
  process.send?.(msg);
}

/** Stops the node once on any of: SIGTERM, SIGINT, the primary going away. Exit 0 after a clean drain. */
export function drainOnExitSignals(node: ParleyNode): void {
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        node.log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal (the primary's SIGTERM after a terminal's SIGINT to the whole
  // process group) must not kill a drain in progress.
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.once('disconnect', shutdown);
}
