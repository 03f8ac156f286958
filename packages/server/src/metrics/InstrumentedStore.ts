/**
 * A Store decorator: times every call (`parley_store_seconds{method,outcome}`), records group-commit
 * sizes and counts sends by outcome. Behaviour is the wrapped store's, unchanged: results and
 * rejections pass through as they are.
 */
import type { AckRequest, AppendResult, NewMessage, ReadRequest, Store } from '../store/Store.ts';
import type { Metrics } from './Metrics.ts';

type Method = keyof Store;

export class InstrumentedStore implements Store {
  constructor(
    private readonly inner: Store,
    private readonly m: Metrics,
  ) {}

  private async timed<R>(method: Method, call: () => Promise<R>): Promise<R> {
    const end = this.m.storeSeconds.startTimer({ method });
    try {
      const r = await call();
      end({ outcome: 'ok' });
      return r;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }

  migrate: Store['migrate'] = () => this.timed('migrate', () => this.inner.migrate());
  close: Store['close'] = () => this.inner.close();
  createUser: Store['createUser'] = (u) => this.timed('createUser', () => this.inner.createUser(u));
  userByHandle: Store['userByHandle'] = (h) => this.timed('userByHandle', () => this.inner.userByHandle(h));
  usersById: Store['usersById'] = (ids) => this.timed('usersById', () => this.inner.usersById(ids));
  setLastSeen: Store['setLastSeen'] = (u, ts) => this.timed('setLastSeen', () => this.inner.setLastSeen(u, ts));
  createDevice: Store['createDevice'] = (d) => this.timed('createDevice', () => this.inner.createDevice(d));
  device: Store['device'] = (id) => this.timed('device', () => this.inner.device(id));
  rotateRefresh: Store['rotateRefresh'] = (d, o, n) => this.timed('rotateRefresh', () => this.inner.rotateRefresh(d, o, n));
  revokeDevice: Store['revokeDevice'] = (d) => this.timed('revokeDevice', () => this.inner.revokeDevice(d));
  directBetween: Store['directBetween'] = (a, b) => this.timed('directBetween', () => this.inner.directBetween(a, b));
  createConversation: Store['createConversation'] = (c) => this.timed('createConversation', () => this.inner.createConversation(c));
  conversation: Store['conversation'] = (id) => this.timed('conversation', () => this.inner.conversation(id));
  conversationsOf: Store['conversationsOf'] = (u) => this.timed('conversationsOf', () => this.inner.conversationsOf(u));
  conversationFor: Store['conversationFor'] = (u, id) => this.timed('conversationFor', () => this.inner.conversationFor(u, id));
  addMembers: Store['addMembers'] = (c, us, by, max) => this.timed('addMembers', () => this.inner.addMembers(c, us, by, max));
  removeMember: Store['removeMember'] = (c, u, by, ch) => this.timed('removeMember', () => this.inner.removeMember(c, u, by, ch));
  setAdmin: Store['setAdmin'] = (c, u, a, by) => this.timed('setAdmin', () => this.inner.setAdmin(c, u, a, by));
  rename: Store['rename'] = (c, n, by) => this.timed('rename', () => this.inner.rename(c, n, by));
  isMember: Store['isMember'] = (c, u) => this.timed('isMember', () => this.inner.isMember(c, u));
  memberIds: Store['memberIds'] = (c) => this.timed('memberIds', () => this.inner.memberIds(c));
  shareConversation: Store['shareConversation'] = (a, b) => this.timed('shareConversation', () => this.inner.shareConversation(a, b));
  history: Store['history'] = (c, p) => this.timed('history', () => this.inner.history(c, p));
  readLog: Store['readLog'] = (u, a, l) => this.timed('readLog', () => this.inner.readLog(u, a, l));
  head: Store['head'] = (u) => this.timed('head', () => this.inner.head(u));
  messageInfo: Store['messageInfo'] = (c, s) => this.timed('messageInfo', () => this.inner.messageInfo(c, s));

  async appendMessages(batch: readonly NewMessage[]): Promise<AppendResult> {
    this.m.batchSize.observe({ method: 'appendMessages' }, batch.length);
    const res = await this.timed('appendMessages', () => this.inner.appendMessages(batch));
    for (const o of res.outcomes) this.m.messagesIn.inc({ outcome: !o.ok ? 'refused' : o.duplicate ? 'duplicate' : 'stored' });
    return res;
  }

  applyAcks: Store['applyAcks'] = (batch: readonly AckRequest[]) => {
    this.m.batchSize.observe({ method: 'applyAcks' }, batch.length);
    return this.timed('applyAcks', () => this.inner.applyAcks(batch));
  };

  applyReads: Store['applyReads'] = (batch: readonly ReadRequest[]) => {
    this.m.batchSize.observe({ method: 'applyReads' }, batch.length);
    return this.timed('applyReads', () => this.inner.applyReads(batch));
  };
}
