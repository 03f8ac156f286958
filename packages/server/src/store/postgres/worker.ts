/**
 * The PostgreSQL store's thread (see PostgresWorkerStore): one PostgresStore, its pool and its
 * transactions, on an event loop of their own. Each request runs as soon as it arrives, several at
 * once as on the main thread; the replies of one tick go back in one message.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { PostgresStore, type PostgresStoreOptions } from '../PostgresStore.ts';
import { failure, type WorkerReply, type WorkerRequest } from '../worker-protocol.ts';

const { options, port } = workerData as { options: PostgresStoreOptions; port: MessagePort };
const store = new PostgresStore(options);

let replies: WorkerReply[] = [];

function flush(): void {
  const batch = replies;
  replies = [];
  port.postMessage(batch);
}

function reply(r: WorkerReply): void {
  if (replies.push(r) === 1) setImmediate(flush);
}

async function run(r: WorkerRequest): Promise<void> {
  try {
    const fn = store[r.method] as (...a: unknown[]) => Promise<unknown>;
    reply({ id: r.id, ok: true, value: await fn.apply(store, r.args) });
  } catch (err) {
    reply(failure(r.id, err));
  }
  if (r.method === 'close') {
    flush();
    port.close();
  }
}

port.on('message', (batch: WorkerRequest[]) => {
  for (const r of batch) void run(r);
});
