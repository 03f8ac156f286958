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
import { SqliteStore } from './SqliteStore.ts';
import type { Store } from './Store.ts';
import { WorkerClient } from './WorkerClient.ts';

export interface SqliteWorkerStoreOptions {
  /** Database file (not ':memory:': both threads must open the same database). */
  path: string;
}

export class SqliteWorkerStore implements Store {
  private readonly writer: WorkerClient;
  private readonly reader: SqliteStore;
  private closed: Promise<void> | null = null;

  constructor(options: SqliteWorkerStoreOptions) {
    if (options.path === ':memory:') throw new RangeError('SqliteWorkerStore needs a database file');
    this.writer = new WorkerClient(new URL('./sqlite/worker.ts', import.meta.url), { path: options.path });
    this.reader = new SqliteStore({ path: options.path });
  }

  private call<T>(method: keyof Store, args: unknown[]): Promise<T> {
    return this.writer.call<T>(method, args);
  }

  migrate(): Promise<void> {
    return this.call('migrate', []);
  }

  async close(): Promise<void> {
    this.closed ??= (async () => {
      if (!this.writer.failed) await this.call('close', []).catch(() => {});
      await this.reader.close();
      await this.writer.terminate();
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
