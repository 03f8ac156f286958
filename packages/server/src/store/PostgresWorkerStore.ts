/**
 * The cluster store with its PostgreSQL client off the event loop: a worker thread
 * (store/postgres/worker.ts) runs PostgresStore, so its transactions' round trips are answered on
 * a loop of their own. Why: a transaction holds row locks (a large group's conversation row, for
 * the length of every append) across each round trip, and on the node's own loop every reply
 * waits behind whatever runs there, a 1,000-member fan-out's ~10 ms of socket writes above all;
 * those waits became lock hold times that the next message queued behind (docs/benchmarks.md,
 * group). Same contract as PostgresStore; results cross the thread boundary by structured clone.
 */
import type { PostgresStoreOptions } from './PostgresStore.ts';
import type { Store } from './Store.ts';
import { WorkerClient } from './WorkerClient.ts';

export class PostgresWorkerStore implements Store {
  private readonly worker: WorkerClient;
  private closed: Promise<void> | null = null;

  constructor(options: PostgresStoreOptions) {
    this.worker = new WorkerClient(new URL('./postgres/worker.ts', import.meta.url), { options });
  }

  private call<T>(method: keyof Store, args: unknown[]): Promise<T> {
    return this.worker.call<T>(method, args);
  }

  migrate(): Promise<void> {
    return this.call('migrate', []);
  }

  async close(): Promise<void> {
    this.closed ??= (async () => {
      if (!this.worker.failed) await this.call('close', []).catch(() => {});
      await this.worker.terminate();
    })();
    return this.closed;
  }

  createUser: Store['createUser'] = (...a) => this.call('createUser', a);
  userByHandle: Store['userByHandle'] = (...a) => this.call('userByHandle', a);
  usersById: Store['usersById'] = (...a) => this.call('usersById', a);
  setLastSeen: Store['setLastSeen'] = (...a) => this.call('setLastSeen', a);
  createDevice: Store['createDevice'] = (...a) => this.call('createDevice', a);
  device: Store['device'] = (...a) => this.call('device', a);
  rotateRefresh: Store['rotateRefresh'] = (...a) => this.call('rotateRefresh', a);
  revokeDevice: Store['revokeDevice'] = (...a) => this.call('revokeDevice', a);
  directBetween: Store['directBetween'] = (...a) => this.call('directBetween', a);
  createConversation: Store['createConversation'] = (...a) => this.call('createConversation', a);
  conversation: Store['conversation'] = (...a) => this.call('conversation', a);
  conversationsOf: Store['conversationsOf'] = (...a) => this.call('conversationsOf', a);
  conversationFor: Store['conversationFor'] = (...a) => this.call('conversationFor', a);
  addMembers: Store['addMembers'] = (...a) => this.call('addMembers', a);
  removeMember: Store['removeMember'] = (...a) => this.call('removeMember', a);
  setAdmin: Store['setAdmin'] = (...a) => this.call('setAdmin', a);
  rename: Store['rename'] = (...a) => this.call('rename', a);
  isMember: Store['isMember'] = (...a) => this.call('isMember', a);
  memberIds: Store['memberIds'] = (...a) => this.call('memberIds', a);
  shareConversation: Store['shareConversation'] = (...a) => this.call('shareConversation', a);
  appendMessages: Store['appendMessages'] = (...a) => this.call('appendMessages', a);
  history: Store['history'] = (...a) => this.call('history', a);
  readLog: Store['readLog'] = (...a) => this.call('readLog', a);
  head: Store['head'] = (...a) => this.call('head', a);
  applyAcks: Store['applyAcks'] = (...a) => this.call('applyAcks', a);
  applyReads: Store['applyReads'] = (...a) => this.call('applyReads', a);
  messageInfo: Store['messageInfo'] = (...a) => this.call('messageInfo', a);
}
