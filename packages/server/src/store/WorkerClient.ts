/**
 * The calling side of a store that runs in a worker thread (SqliteWorkerStore,
 * PostgresWorkerStore): sends Store calls over a MessagePort and settles each from its reply. The
 * calls of one tick leave in one message. A worker that dies is a store outage: every call
 * waiting on it, and every later one, rejects with ParleyError('UNAVAILABLE').
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ParleyError, isErrorCode } from '@parley/protocol';
import type { Store } from './Store.ts';
import { workerSource, type WorkerReply, type WorkerRequest } from './worker-protocol.ts';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

export class WorkerClient {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly pending = new Map<number, Pending>();
  private outbox: WorkerRequest[] = [];
  private nextId = 1;
  private dead: Error | null = null;

  /** `entry`: the worker's module; it finds its MessagePort as `workerData.port`. */
  constructor(entry: URL, data: Record<string, unknown>) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(workerSource(entry), { eval: true, workerData: { ...data, port: port2 }, transferList: [port2] });
    this.port.on('message', (replies: WorkerReply[]) => {
      for (const r of replies) this.settle(r);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`store worker exited with ${code}`)));
  }

  get failed(): boolean {
    return this.dead !== null;
  }

  private settle(r: WorkerReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(r.code !== null && isErrorCode(r.code) ? new ParleyError(r.code, r.message) : new Error(r.message));
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    const e = new ParleyError('UNAVAILABLE', `store: ${err.message}`);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  call<T>(method: keyof Store, args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(new ParleyError('UNAVAILABLE', `store: ${this.dead.message}`));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.outbox.push({ id, method, args }) === 1) {
        process.nextTick(() => {
          const batch = this.outbox;
          this.outbox = [];
          this.port.postMessage(batch);
        });
      }
    });
  }

  /** Closes the port and stops the thread (after the caller's own `close` call, if any). */
  async terminate(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }
}
