/**
 * WAL checkpoints on a background thread. With SQLite's automatic checkpoint, the commit that
 * pushes the WAL past 1,000 pages copies them into the database file and fsyncs it, on the event
 * loop: every ~10 busy commits one of them stalls the loop for the copy and the fsync, which is
 * most of a moderate rate's latency tail. Here the writing connection never checkpoints
 * (`wal_autocheckpoint = 0`); a worker thread with its own connection runs a PASSIVE checkpoint
 * every `intervalMs` (it never blocks writers or readers, and copies what no reader still needs).
 * Once a checkpoint has copied the whole WAL, the next writer starts the WAL file from the top.
 * Under sustained writes that never happens by itself: a commit always lands while a pass copies,
 * so no pass reaches the end, and the WAL grew without bound (2.5 GB in 15 s of saturated 1:1
 * traffic in a store microbenchmark), every commit extending the file. So once the WAL holds
 * `RESTART_FRAMES` frames, the thread repeats its pass until one finds only a few new frames
 * (`TAIL_FRAMES`) and reports `tail: true`; the owner then runs one PASSIVE pass on the writing
 * connection itself (SqliteStore's `catchUpCheckpoint`), which copies that short tail while no
 * commit of that process can land, so its next commit starts the WAL over at the top (with other
 * processes writing the same file, theirs may land in between: the pass then just helps).
 *
 * Contract: `start` returns null when there is no file (':memory:'). If the thread dies, `onExit`
 * tells the owner, which must give its connection back its automatic checkpoints. `stop` ends
 * the thread; the last connection to close checkpoints what is left, as SQLite always does.
 * Several processes sharing the file may each run one: SQLite lets one checkpoint run at a time,
 * the others find it busy and try again on their next tick.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** WAL frames past which the WAL is made to start over (see above): 8,192 x 4 KiB = 32 MiB. */
const RESTART_FRAMES = 8192;
/** New frames a pass may find and still leave the writing connection a short copy. */
const TAIL_FRAMES = 256;

/** The thread's code (CommonJS, no TypeScript): better-sqlite3 is required by absolute path. */
const SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const RESTART_FRAMES = ${RESTART_FRAMES};
const TAIL_FRAMES = ${TAIL_FRAMES};
const MAX_PASSES = 10;
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
let stopped = false;
parentPort.on('message', (m) => { if (m === 'stop') { stopped = true; db.close(); process.exit(0); } });
const tick = () => {
  if (stopped) return;
  try {
    let [r] = db.pragma('wal_checkpoint(PASSIVE)');
    let tail = false;
    for (let pass = 0; r && r.log >= RESTART_FRAMES && pass < MAX_PASSES; pass++) {
      const before = r.log;
      [r] = db.pragma('wal_checkpoint(PASSIVE)');
      if (r && r.log - before <= TAIL_FRAMES && r.checkpointed === r.log) {
        tail = true;
        break;
      }
    }
    if (r && r.log > 0) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed, tail });
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
  /**
   * The WAL is past `RESTART_FRAMES` and everything but a short tail is in the database file: a
   * PASSIVE checkpoint on the writing connection now lets the next commit start the WAL over.
   */
  tail: boolean;
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
