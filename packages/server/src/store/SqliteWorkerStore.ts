/**
 * The embedded store with its writes off the event loop: a worker thread (store/sqlite/worker.ts)
 * owns the writing connection and commits the requests of each wake-up as one group (one COMMIT
 * for the sends, acks and reads that arrived together). Reads run here, on a second connection to
 * the same file: in WAL mode a reader sees every transaction committed before it started, and a
 * write's promise resolves only after its commit, so a read issued after it sees it.
 *
 * Same contract as SqliteStore (it runs SqliteStore's code on both sides). Nothing is cached
 * across transactions, so several processes may open the same database file.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { ParleyError, isErrorCode } from '@parley/protocol';
import { SqliteStore } from './SqliteStore.ts';
import type { Store } from './Store.ts';
import type { WorkerReply, WorkerRequest } from './sqlite/worker.ts';

export interface SqliteWorkerStoreOptions {
  /** Database file (not ':memory:': both threads must open the same database). */
  path: string;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };

/** Under tsx the worker must register the TypeScript loader before importing the .ts entry. */
function workerSource(entry: URL): string {
  const load = `import(${JSON.stringify(entry.href)})`;
  return entry.pathname.endsWith('.ts') ? `import('tsx/esm/api').then((m) => { m.register(); return ${load}; })` : load;
}

export class SqliteWorkerStore implements Store {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly reader: SqliteStore;
  private readonly pending = new Map<number, Pending>();
  private outbox: WorkerRequest[] = [];
  private nextId = 1;
  private dead: Error | null = null;
  private closed: Promise<void> | null = null;

  constructor(options: SqliteWorkerStoreOptions) {
    if (options.path === ':memory:') throw new RangeError('SqliteWorkerStore needs a database file');
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(workerSource(new URL('./sqlite/worker.ts', import.meta.url)), {
      eval: true,
      workerData: { path: options.path, port: port2 },
      transferList: [port2],
    });
    this.port.on('message', (replies: WorkerReply[]) => {
      for (const r of replies) this.settle(r);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`store worker exited with ${code}`)));
    this.reader = new SqliteStore({ path: options.path });
  }

  private settle(r: WorkerReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(r.code !== null && isErrorCode(r.code) ? new ParleyError(r.code, r.message) : new Error(r.message));
  }

  /** A dead writer is a store outage: everything waiting on it fails as retryable. */
  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    const e = new ParleyError('UNAVAILABLE', `store: ${err.message}`);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Requests of one tick leave in one message; the worker may merge several into one commit. */
  private call<T>(method: keyof Store, args: unknown[]): Promise<T> {
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

  migrate(): Promise<void> {
    return this.call('migrate', []);
  }

  async close(): Promise<void> {
    this.closed ??= (async () => {
      if (!this.dead) await this.call('close', []).catch(() => {});
      await this.reader.close();
      this.port.close();
      await this.worker.terminate();
    })();
    return this.closed;
  }

  // --- writes: the worker ---
  createUser: Store['createUser'] = (...a) => this.call('createUser', a);
  setLastSeen: Store['setLastSeen'] = (...a) => this.call('setLastSeen', a);
  createDevice: Store['createDevice'] = (...a) => this.call('createDevice', a);
  rotateRefresh: Store['rotateRefresh'] = (...a) => this.call('rotateRefresh', a);
  revokeDevice: Store['revokeDevice'] = (...a) => this.call('revokeDevice', a);
  createConversation: Store['createConversation'] = (...a) => this.call('createConversation', a);
  addMembers: Store['addMembers'] = (...a) => this.call('addMembers', a);
  removeMember: Store['removeMember'] = (...a) => this.call('removeMember', a);
  setAdmin: Store['setAdmin'] = (...a) => this.call('setAdmin', a);
  rename: Store['rename'] = (...a) => this.call('rename', a);
  appendMessages: Store['appendMessages'] = (...a) => this.call('appendMessages', a);
  applyAcks: Store['applyAcks'] = (...a) => this.call('applyAcks', a);
  applyReads: Store['applyReads'] = (...a) => this.call('applyReads', a);

  // --- reads: this thread's connection ---
  userByHandle: Store['userByHandle'] = (...a) => this.reader.userByHandle(...a);
  usersById: Store['usersById'] = (...a) => this.reader.usersById(...a);
  device: Store['device'] = (...a) => this.reader.device(...a);
  directBetween: Store['directBetween'] = (...a) => this.reader.directBetween(...a);
  conversation: Store['conversation'] = (...a) => this.reader.conversation(...a);
  conversationsOf: Store['conversationsOf'] = (...a) => this.reader.conversationsOf(...a);
  conversationFor: Store['conversationFor'] = (...a) => this.reader.conversationFor(...a);
  isMember: Store['isMember'] = (...a) => this.reader.isMember(...a);
  memberIds: Store['memberIds'] = (...a) => this.reader.memberIds(...a);
  shareConversation: Store['shareConversation'] = (...a) => this.reader.shareConversation(...a);
  history: Store['history'] = (...a) => this.reader.history(...a);
  readLog: Store['readLog'] = (...a) => this.reader.readLog(...a);
  head: Store['head'] = (...a) => this.reader.head(...a);
  messageInfo: Store['messageInfo'] = (...a) => this.reader.messageInfo(...a);
}
