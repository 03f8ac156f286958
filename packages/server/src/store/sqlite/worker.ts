/**
 * The SQLite writer thread (see SqliteWorkerStore). It owns one connection and runs every request
 * it is sent. Requests that arrive together — everything queued on its port when it wakes up — run
 * in ONE write transaction (BEGIN IMMEDIATE), each request inside its own savepoint: a request that
 * fails rolls back alone, and nobody hears "done" before the shared COMMIT. While one group
 * commits, the next one queues up, so the group size grows with the load by itself.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteStore } from '../SqliteStore.ts';
import { failure, type WorkerReply, type WorkerRequest } from '../worker-protocol.ts';

const { path, port } = workerData as { path: string; port: MessagePort };
const store = new SqliteStore({ path });

async function run(requests: WorkerRequest[]): Promise<void> {
  let settled: Promise<unknown>[];
  try {
    // SqliteStore's methods do all their work synchronously: by the time the group's transaction
    // commits, every promise here has settled (nested ones as savepoints).
    settled = store.inOneTransaction(() =>
      requests.map((r) => {
        const fn = store[r.method] as (...a: unknown[]) => Promise<unknown>;
        const p = fn.apply(store, r.args);
        p.catch(() => {});
        return p;
      }),
    );
  } catch (err) {
    // The shared commit failed: nothing of this group was stored.
    port.postMessage(requests.map((r) => failure(r.id, err)));
    return;
  }
  const replies = await Promise.all(
    settled.map((p, i) => {
      const id = requests[i]!.id;
      return p.then(
        (value): WorkerReply => ({ id, ok: true, value }),
        (err: unknown) => failure(id, err),
      );
    }),
  );
  port.postMessage(replies);
}

/** migrate and close manage their own transactions: each runs alone, in its place in the queue. */
const solo = (r: WorkerRequest) => r.method === 'migrate' || r.method === 'close';

let busy = false;
let queue: WorkerRequest[] = [];

async function pump(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    for (;;) {
      // Take everything already waiting on the port, not just the message that woke us.
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) queue.push(...(m.message as WorkerRequest[]));
      const first = queue[0];
      if (!first) break;
      if (solo(first)) {
        queue.shift();
        await runAlone(first);
        if (first.method === 'close') return;
        continue;
      }
      const cut = queue.findIndex(solo);
      const group = cut < 0 ? queue : queue.slice(0, cut);
      queue = cut < 0 ? [] : queue.slice(cut);
      await run(group);
    }
  } finally {
    busy = false;
  }
}

async function runAlone(r: WorkerRequest): Promise<void> {
  let reply: WorkerReply;
  try {
    const fn = store[r.method] as (...a: unknown[]) => Promise<unknown>;
    reply = { id: r.id, ok: true, value: await fn.apply(store, r.args) };
  } catch (err) {
    reply = failure(r.id, err);
  }
  port.postMessage([reply]);
  if (r.method === 'close') port.close();
}

port.on('message', (batch: WorkerRequest[]) => {
  queue.push(...batch);
  void pump();
});
parentPort?.postMessage('ready');
