/**
 * WAL checkpoints on a background thread. With SQLite's automatic checkpoint, the commit that
 * pushes the WAL past 1,000 pages copies them into the database file and fsyncs it, on the event
 * loop: every ~10 busy commits one of them stalls the loop for the copy and the fsync, which is
 * most of a moderate rate's latency tail. Here the writing connection never checkpoints
 * (`wal_autocheckpoint = 0`); a worker thread with its own connection runs a PASSIVE checkpoint
 * every `intervalMs` (it never blocks writers or readers, and copies what no reader still needs).
 * Once a checkpoint has copied the whole WAL, the next writer starts the WAL file from the top, so
 * its size stays bounded by what piles up between checkpoints.
 *
 * Contract: `start` returns null when there is no file (':memory:'). If the thread dies, `onExit`
 * tells the owner, which must give its connection back its automatic checkpoints. `stop` ends
 * the thread; the last connection to close checkpoints what is left, as SQLite always does.
 * Several processes sharing the file may each run one: SQLite lets one checkpoint run at a time,
 * the others find it busy and try again on their next tick.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The thread's code (CommonJS, no TypeScript): better-sqlite3 is required by absolute path. */
const SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
let stopped = false;
parentPort.on('message', (m) => { if (m === 'stop') { stopped = true; db.close(); process.exit(0); } });
const tick = () => {
  if (stopped) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.log > 0) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    if (!/BUSY|LOCKED/.test(String(err && err.code))) throw err;
  }
  setTimeout(tick, workerData.intervalMs);
};
setTimeout(tick, workerData.intervalMs);
`;

export interface CheckpointProgress {
  /** Frames in the WAL at the checkpoint, and how many of them are in the database file now. */
  log: number;
  checkpointed: number;
}

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(
  path: string,
  intervalMs: number,
  onExit: (err: Error | null) => void,
  onProgress?: (p: CheckpointProgress) => void,
): Checkpointer | null {
  if (path === ':memory:' || path === '') return null;
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(SOURCE, { eval: true, workerData: { path, driver, intervalMs } });
  worker.unref();
  let stopping = false;
  let reported = false;
  const report = (err: Error) => {
    if (stopping || reported) return;
    reported = true;
    onExit(err);
  };
  worker.on('message', (p: CheckpointProgress) => onProgress?.(p));
  worker.on('error', report);
  worker.on('exit', (code) => report(new Error(`checkpoint thread exited with code ${code}`)));
  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      // A thread stuck in a checkpoint is terminated after a grace period.
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
